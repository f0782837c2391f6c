import { clone, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { type Client, createClient, createRouterTransport } from "@connectrpc/connect";
import { decodeSourceInfo } from "@lucid-rdp/gen/source-info";
import { describe, expect, it } from "vitest";
import { Health } from "./gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  type ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
import { EchoService } from "./gen/lucid/rdp/testing/v1/echo_service_pb.js";
import { sourceInfoGzBase64 } from "./gen/source_info.js";
import { type ReflectionOptions, reflectionRoutes, reflectionServiceNames } from "./reflection.js";

type Request = MessageInitShape<typeof ServerReflectionRequestSchema>;
type ReflectionService = typeof ServerReflection | typeof ServerReflectionV1alpha;

const echoFile = "lucid/rdp/testing/v1/echo_service.proto";
const optionsFile = "lucid/rdp/v1/options.proto";
const validateFile = "buf/validate/validate.proto";
const descriptorFile = "google/protobuf/descriptor.proto";

function reflectionClient(
  service: ReflectionService = ServerReflection,
  options?: ReflectionOptions,
): Client<typeof ServerReflection> {
  const transport = createRouterTransport(reflectionRoutes([EchoService, Health], options));
  // The v1alpha service has the same shape as v1; only its name differs.
  return createClient(service as typeof ServerReflection, transport);
}

/** Sends `requests` on one stream and collects all responses. */
async function exchange(
  requests: Request[],
  client = reflectionClient(),
): Promise<ServerReflectionResponse[]> {
  async function* send() {
    yield* requests;
  }
  const responses: ServerReflectionResponse[] = [];
  for await (const response of client.serverReflectionInfo(send())) {
    responses.push(response);
  }
  return responses;
}

function symbol(name: string): Request {
  return { host: "", messageRequest: { case: "fileContainingSymbol", value: name } };
}

function filename(name: string): Request {
  return { host: "", messageRequest: { case: "fileByFilename", value: name } };
}

/** Returns the file names of a file descriptor response, in order. */
function fileNames(response: ServerReflectionResponse | undefined): string[] {
  expect(response?.messageResponse.case).toBe("fileDescriptorResponse");
  if (response?.messageResponse.case !== "fileDescriptorResponse") {
    return [];
  }
  return response.messageResponse.value.fileDescriptorProto.map(
    (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
  );
}

function errorOf(response: ServerReflectionResponse | undefined) {
  expect(response?.messageResponse.case).toBe("errorResponse");
  return response?.messageResponse.case === "errorResponse"
    ? response.messageResponse.value
    : undefined;
}

/** Drops message type names, so that v1 and v1alpha answers compare equal. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) =>
      key === "$typeName" ? undefined : v instanceof Uint8Array ? Array.from(v) : v,
    ),
  );
}

describe("reflectionServiceNames()", () => {
  it("returns v1 and v1alpha by default", () => {
    expect(reflectionServiceNames()).toStrictEqual([
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });

  it("returns only the chosen versions", () => {
    expect(reflectionServiceNames({ versions: ["v1alpha"] })).toStrictEqual([
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  });
});

describe("reflectionRoutes()", () => {
  describe("list_services", () => {
    it("lists the served services and the reflection services", async () => {
      const [response] = await exchange([
        { host: "", messageRequest: { case: "listServices", value: "*" } },
      ]);
      expect(response?.messageResponse.case).toBe("listServicesResponse");
      const names =
        response?.messageResponse.case === "listServicesResponse"
          ? response.messageResponse.value.service.map((s) => s.name)
          : [];
      expect(names).toStrictEqual([
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "lucid.rdp.testing.v1.EchoService",
      ]);
    });

    it("lists only the registered reflection versions", async () => {
      const client = reflectionClient(ServerReflectionV1alpha, { versions: ["v1alpha"] });
      const [response] = await exchange(
        [{ host: "", messageRequest: { case: "listServices", value: "" } }],
        client,
      );
      const names =
        response?.messageResponse.case === "listServicesResponse"
          ? response.messageResponse.value.service.map((s) => s.name)
          : [];
      expect(names).toContain("grpc.reflection.v1alpha.ServerReflection");
      expect(names).not.toContain("grpc.reflection.v1.ServerReflection");
    });
  });

  describe("file_containing_symbol", () => {
    it.each([
      ["a service", "lucid.rdp.testing.v1.EchoService", echoFile],
      ["a method", "lucid.rdp.testing.v1.EchoService.Echo", echoFile],
      ["a message", "lucid.rdp.testing.v1.EchoRequest", echoFile],
      ["a field", "lucid.rdp.testing.v1.EchoStreamRequest.interval_ms", echoFile],
      ["an enum", "lucid.rdp.v1.Role", optionsFile],
      ["an enum value, scoped as a sibling of its enum", "lucid.rdp.v1.ROLE_VIEWER", optionsFile],
      ["an extension", "lucid.rdp.v1.access", optionsFile],
      ["a nested message", "google.protobuf.DescriptorProto.ExtensionRange", descriptorFile],
      ["a nested enum value", "google.protobuf.FieldDescriptorProto.TYPE_STRING", descriptorFile],
      ["a oneof", "buf.validate.FieldRules.type", validateFile],
      ["a leading-dot name", ".lucid.rdp.testing.v1.EchoResponse", echoFile],
      [
        "a reflection service",
        "grpc.reflection.v1.ServerReflection",
        "grpc/reflection/v1/reflection.proto",
      ],
    ])("finds the file of %s", async (_, name, file) => {
      const [response] = await exchange([symbol(name)]);
      expect(fileNames(response)[0]).toBe(file);
    });

    it("does not scope enum values inside their enum", async () => {
      const [response] = await exchange([symbol("lucid.rdp.v1.Role.ROLE_VIEWER")]);
      expect(errorOf(response)?.errorCode).toBe(5);
    });

    it("sends the requested file first, then its transitive imports", async () => {
      const [response] = await exchange([symbol("lucid.rdp.testing.v1.EchoService")]);
      const names = fileNames(response);
      expect(names[0]).toBe(echoFile);
      expect(names).toContain(validateFile);
      expect(names).toContain(optionsFile);
      expect(names).toContain(descriptorFile);
      expect(names).toContain("google/protobuf/duration.proto");
      expect(new Set(names).size).toBe(names.length);
    });

    it("sends the bytes of each file as compiled", async () => {
      const [response] = await exchange([symbol("lucid.rdp.testing.v1.EchoService")]);
      expect(response?.messageResponse.case).toBe("fileDescriptorResponse");
      if (response?.messageResponse.case !== "fileDescriptorResponse") {
        return;
      }
      const echo = fromBinary(
        FileDescriptorProtoSchema,
        response.messageResponse.value.fileDescriptorProto[0]!,
      );
      expect(echo.dependency).toStrictEqual([validateFile, optionsFile]);
      expect(echo.service[0]?.method.map((m) => m.name)).toStrictEqual([
        "Echo",
        "EchoStream",
        "Fail",
        "Slow",
        "Ticks",
      ]);
      expect(echo.messageType[2]?.field[2]?.jsonName).toBe("intervalMs");
    });

    it("sends imports once per stream but the requested file every time", async () => {
      const [first, second, third] = await exchange([
        symbol("lucid.rdp.testing.v1.EchoService"),
        symbol("lucid.rdp.testing.v1.EchoRequest"),
        symbol("lucid.rdp.v1.ROLE_VIEWER"),
      ]);
      expect(fileNames(first).length).toBeGreaterThan(3);
      expect(fileNames(second)).toStrictEqual([echoFile]);
      expect(fileNames(third)).toStrictEqual([optionsFile]);
    });

    it("sends the imports again on a new stream", async () => {
      const client = reflectionClient();
      await exchange([symbol("lucid.rdp.testing.v1.EchoService")], client);
      const [again] = await exchange([symbol("lucid.rdp.testing.v1.EchoService")], client);
      expect(fileNames(again)).toContain(optionsFile);
    });

    it("answers NOT_FOUND in the stream for an unknown symbol and keeps serving", async () => {
      const [missing, next] = await exchange([
        symbol("lucid.rdp.testing.v1.NoSuchService"),
        symbol("lucid.rdp.testing.v1.EchoService"),
      ]);
      expect(errorOf(missing)).toMatchObject({
        errorCode: 5,
        errorMessage: 'symbol "lucid.rdp.testing.v1.NoSuchService" not found',
      });
      expect(fileNames(next)[0]).toBe(echoFile);
    });
  });

  describe("file_containing_symbol for error details", () => {
    it.each([
      "google.rpc.BadRequest",
      "google.rpc.BadRequest.FieldViolation",
      "google.rpc.ErrorInfo",
      "google.rpc.RetryInfo",
    ])("finds %s in google/rpc/error_details.proto", async (name) => {
      const [response] = await exchange([symbol(name)]);
      expect(fileNames(response)[0]).toBe("google/rpc/error_details.proto");
    });
  });

  describe("file_by_filename", () => {
    it("finds a served file with its imports", async () => {
      const [response] = await exchange([filename(optionsFile)]);
      expect(fileNames(response)).toStrictEqual([optionsFile, descriptorFile]);
    });

    it("finds a well-known type file that no served file imports", async () => {
      const [response] = await exchange([filename("google/protobuf/empty.proto")]);
      expect(fileNames(response)).toStrictEqual(["google/protobuf/empty.proto"]);
    });

    it("finds google/rpc/error_details.proto and status.proto, the types of error details", async () => {
      const [details, status] = await exchange([
        filename("google/rpc/error_details.proto"),
        filename("google/rpc/status.proto"),
      ]);
      expect(fileNames(details)).toStrictEqual([
        "google/rpc/error_details.proto",
        "google/protobuf/duration.proto",
      ]);
      expect(fileNames(status)).toStrictEqual([
        "google/rpc/status.proto",
        "google/protobuf/any.proto",
      ]);
    });

    it("answers NOT_FOUND for an unknown file", async () => {
      const [response] = await exchange([filename("lucid/rdp/v1/nope.proto")]);
      expect(errorOf(response)?.errorCode).toBe(5);
    });
  });

  describe("file_containing_extension", () => {
    it("finds the file declaring an extension", async () => {
      const [response] = await exchange([
        {
          host: "",
          messageRequest: {
            case: "fileContainingExtension",
            value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 50100 },
          },
        },
      ]);
      expect(fileNames(response)[0]).toBe(optionsFile);
    });

    it("answers NOT_FOUND for an unknown extension number", async () => {
      const [response] = await exchange([
        {
          host: "",
          messageRequest: {
            case: "fileContainingExtension",
            value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 1 },
          },
        },
      ]);
      expect(errorOf(response)?.errorCode).toBe(5);
    });
  });

  describe("all_extension_numbers_of_type", () => {
    it("lists the extension numbers of a known type", async () => {
      const [response] = await exchange([
        {
          host: "",
          messageRequest: {
            case: "allExtensionNumbersOfType",
            value: "google.protobuf.MethodOptions",
          },
        },
      ]);
      expect(response?.messageResponse).toStrictEqual({
        case: "allExtensionNumbersResponse",
        value: expect.objectContaining({
          baseTypeName: "google.protobuf.MethodOptions",
          extensionNumber: [50100],
        }),
      });
    });

    it("answers NOT_FOUND for an unknown type", async () => {
      const [response] = await exchange([
        { host: "", messageRequest: { case: "allExtensionNumbersOfType", value: "a.B" } },
      ]);
      expect(errorOf(response)?.errorCode).toBe(5);
    });
  });

  describe("responses", () => {
    it("echo valid_host and original_request", async () => {
      const request = symbol("lucid.rdp.testing.v1.EchoService");
      request.host = "reflection.example:443";
      const [response] = await exchange([request]);
      expect(response?.validHost).toBe("reflection.example:443");
      expect(response?.originalRequest?.host).toBe("reflection.example:443");
      expect(response?.originalRequest?.messageRequest).toStrictEqual(request.messageRequest);
    });

    it("answers INVALID_ARGUMENT when no request is set", async () => {
      const [response] = await exchange([{ host: "", messageRequest: { case: undefined } }]);
      expect(errorOf(response)?.errorCode).toBe(3);
    });
  });

  describe("v1alpha", () => {
    it("answers like v1 on the same stream semantics", async () => {
      const client = reflectionClient(ServerReflectionV1alpha);
      const responses = await exchange(
        [
          { host: "", messageRequest: { case: "listServices", value: "" } },
          symbol("lucid.rdp.testing.v1.EchoService.Echo"),
          filename(optionsFile),
          symbol("lucid.rdp.testing.v1.Missing"),
        ],
        client,
      );
      const v1 = await exchange([
        { host: "", messageRequest: { case: "listServices", value: "" } },
        symbol("lucid.rdp.testing.v1.EchoService.Echo"),
        filename(optionsFile),
        symbol("lucid.rdp.testing.v1.Missing"),
      ]);
      expect(responses.map((r) => plain(r.messageResponse))).toStrictEqual(
        v1.map((r) => plain(r.messageResponse)),
      );
      expect(fileNames(responses[1])[0]).toBe(echoFile);
      expect(fileNames(responses[2])).toStrictEqual([optionsFile]);
      expect(errorOf(responses[3])?.errorCode).toBe(5);
    });
  });
});

describe("reflectionRoutes() with source info", () => {
  const documented = decodeSourceInfo(sourceInfoGzBase64);

  async function servedEchoFile(sourceInfo: FileDescriptorProto[]) {
    const [response] = await exchange(
      [symbol("lucid.rdp.testing.v1.EchoService")],
      reflectionClient(ServerReflection, { sourceInfo }),
    );
    if (response?.messageResponse.case !== "fileDescriptorResponse") throw new Error("no file");
    const bytes = response.messageResponse.value.fileDescriptorProto[0];
    return fromBinary(FileDescriptorProtoSchema, bytes ?? new Uint8Array());
  }

  it("sends the documented file, comments included", async () => {
    const file = await servedEchoFile(documented);
    const comments = file.sourceCodeInfo?.location.map((l) => l.leadingComments).join("\n") ?? "";
    expect(comments).toContain("EchoService exists only for the runtime's tests");
  });

  it("ignores a documented file that no longer matches the served descriptor", async () => {
    const stale = documented.map((f) => {
      const c = clone(FileDescriptorProtoSchema, f);
      c.messageType = c.messageType.slice(1);
      return c;
    });
    const file = await servedEchoFile(stale);
    expect(file.sourceCodeInfo).toBeUndefined();
    expect(file.messageType.length).toBe(documented[0]?.messageType.length);
  });
});
