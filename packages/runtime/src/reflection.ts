import {
  clone,
  type DescFile,
  type DescMessage,
  type DescService,
  type FileRegistry,
  type Registry,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "./gen/google/rpc/error_details_pb.js";
import { file_google_rpc_status } from "./gen/google/rpc/status_pb.js";
import { ServerReflection as ServerReflectionV1 } from "./gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "./gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * A version of the gRPC server reflection protocol: `grpc.reflection.v1` or its older twin
 * `grpc.reflection.v1alpha`, which some clients still use.
 */
export type ReflectionVersion = "v1" | "v1alpha";

/**
 * Options for {@link reflectionRoutes}.
 */
export interface ReflectionOptions {
  /**
   * Files to describe beyond those of the served services: for example files that declare
   * extensions clients should be able to find. A `Registry` contributes the file of every
   * descriptor it holds; a `FileRegistry` contributes its files. Imports are followed either way.
   * @default []
   */
  files?: Iterable<DescFile> | Registry;
  /**
   * The reflection protocol versions to serve.
   * @default ["v1", "v1alpha"]
   */
  versions?: readonly ReflectionVersion[];
  /**
   * Compiled files WITH source info (comments), sent instead of the embedded descriptor of the
   * same name, so that clients such as `grpcurl describe` show the documentation. A file is used
   * only if it matches the embedded one apart from source info and json names; a stale one is
   * ignored. @default []
   */
  sourceInfo?: Iterable<FileDescriptorProto>;
}

const servicesByVersion: Record<ReflectionVersion, DescService> = {
  v1: ServerReflectionV1,
  v1alpha: ServerReflectionV1alpha,
};

/**
 * The reflection services {@link reflectionRoutes} registers by default: `grpc.reflection.v1` and
 * `grpc.reflection.v1alpha` `ServerReflection`.
 */
export const reflectionServices: readonly DescService[] = [
  ServerReflectionV1,
  ServerReflectionV1alpha,
];

const defaultVersions: readonly ReflectionVersion[] = ["v1", "v1alpha"];

/**
 * Files that are always resolvable by name and symbol, even when no served file imports them: the
 * well-known types, as in other gRPC servers, and google.rpc's status and error details, whose
 * messages (BadRequest, ErrorInfo, ...) travel as `Any` in every error's `grpc-status-details-bin`.
 * Without them grpcurl and buf curl print "google.rpc.BadRequest is not recognized" instead of
 * the field violations and ErrorInfo reasons.
 */
const alwaysServedFiles: readonly DescFile[] = [
  file_google_rpc_error_details,
  file_google_rpc_status,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
];

/**
 * Returns the full names of the reflection services that {@link reflectionRoutes} registers with
 * the same options, for example to add them to a health check or a startup log line.
 */
export function reflectionServiceNames(
  options: Pick<ReflectionOptions, "versions"> = {},
): string[] {
  return (options.versions ?? defaultVersions).map((v) => servicesByVersion[v].typeName);
}

/**
 * Creates routes that serve gRPC server reflection (`grpc.reflection.v1.ServerReflection` and
 * `grpc.reflection.v1alpha.ServerReflection` by default), so that grpcurl, `buf curl`, Postman and
 * similar clients can list and describe the server's services without local .proto files.
 *
 * `list_services` answers the names of `services` plus the reflection services themselves; pass
 * every service the server serves, including `grpc.health.v1.Health` if it does. Every other
 * request is answered from the files of those services, the `files` option, the well-known types,
 * `google/rpc/status.proto` and `google/rpc/error_details.proto` (the types of error details) and
 * all their imports. Files are sent as compiled (`FileDescriptorProto` without source info):
 * the requested file first, followed by those of its transitive imports not yet sent on the same
 * stream. Unknown files, symbols and extensions get an `error_response` with code NOT_FOUND; the
 * stream stays open.
 *
 * @example
 * connectNodeAdapter({ routes: (router) => {
 *   router.service(EchoService, impl);
 *   reflectionRoutes([EchoService])(router);
 * } });
 */
export function reflectionRoutes(
  services: readonly DescService[],
  options: ReflectionOptions = {},
): (router: ConnectRouter) => void {
  const versions = options.versions ?? defaultVersions;
  const served = [...services, ...versions.map((v) => servicesByVersion[v])];
  const index = new DescriptorIndex(
    served,
    [...filesOf(options.files ?? []), ...alwaysServedFiles],
    options.sourceInfo ?? [],
  );
  return (router) => {
    for (const version of new Set(versions)) {
      if (version === "v1") {
        router.service(ServerReflectionV1, {
          serverReflectionInfo: (requests) => serveStream(index, requests),
        });
      } else {
        router.service(ServerReflectionV1alpha, {
          serverReflectionInfo: (requests) => serveStream(index, requests),
        });
      }
    }
  };
}

/**
 * The fields of a `ServerReflectionRequest` this module reads; the v1 and v1alpha messages both
 * have this shape.
 */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | {
        case:
          | "fileByFilename"
          | "fileContainingSymbol"
          | "allExtensionNumbersOfType"
          | "listServices";
        value: string;
      }
    | {
        case: "fileContainingExtension";
        value: { containingType: string; extensionNumber: number };
      }
    | { case: undefined; value?: undefined };
}

/**
 * The `message_response` oneof of a `ServerReflectionResponse`, valid for v1 and v1alpha alike.
 */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | {
      case: "allExtensionNumbersResponse";
      value: { baseTypeName: string; extensionNumber: number[] };
    }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

async function* serveStream<R extends ReflectionRequest>(
  index: DescriptorIndex,
  requests: AsyncIterable<R>,
): AsyncGenerator<{ validHost: string; originalRequest: R; messageResponse: ReflectionAnswer }> {
  // File names already sent on this stream; the spec lets a server skip re-sending them.
  const sent = new Set<string>();
  for await (const request of requests) {
    yield {
      validHost: request.host,
      originalRequest: request,
      messageResponse: answer(index, sent, request.messageRequest),
    };
  }
}

function answer(
  index: DescriptorIndex,
  sent: Set<string>,
  request: ReflectionRequest["messageRequest"],
): ReflectionAnswer {
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const file = index.fileByName(request.value);
      return file ? index.fileResponse(file, sent) : notFound(`file "${request.value}" not found`);
    }
    case "fileContainingSymbol": {
      const file = index.fileBySymbol(request.value);
      return file
        ? index.fileResponse(file, sent)
        : notFound(`symbol "${request.value}" not found`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const file = index.fileByExtension(containingType, extensionNumber);
      return file
        ? index.fileResponse(file, sent)
        : notFound(`extension ${extensionNumber} of "${containingType}" not found`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(request.value);
      return numbers
        ? {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: trimDot(request.value), extensionNumber: numbers },
          }
        : notFound(`message type "${request.value}" not found`);
    }
    case undefined:
      return {
        case: "errorResponse",
        value: { errorCode: Code.InvalidArgument, errorMessage: "message_request is not set" },
      };
  }
}

function notFound(errorMessage: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

/**
 * Lookup tables over a closed set of files, built once per `reflectionRoutes` call.
 */
class DescriptorIndex {
  /** Full names of the served services, sorted. */
  readonly serviceNames: string[];
  /** Files by proto file name, e.g. `lucid/rdp/v1/options.proto`. */
  private readonly files = new Map<string, DescFile>();
  /** The file declaring each fully-qualified symbol, named as protoc scopes it. */
  private readonly symbols = new Map<string, DescFile>();
  /** Full names of all message types. */
  private readonly messages = new Set<string>();
  /** Extendee full name -> extension field number -> declaring file. */
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  /** Serialized `FileDescriptorProto`s, by file name, computed on first use. */
  private readonly encoded = new Map<string, Uint8Array>();

  /** Files with source info by name, to send in place of the embedded descriptors. */
  private readonly documented = new Map<string, FileDescriptorProto>();

  constructor(
    services: readonly DescService[],
    files: Iterable<DescFile>,
    sourceInfo: Iterable<FileDescriptorProto>,
  ) {
    this.serviceNames = [...new Set(services.map((s) => s.typeName))].sort();
    for (const service of services) {
      this.addFile(service.file);
    }
    for (const file of files) {
      this.addFile(file);
    }
    for (const documented of sourceInfo) {
      const embedded = this.files.get(documented.name);
      if (embedded !== undefined && sameDescriptor(embedded.proto, documented)) {
        this.documented.set(documented.name, documented);
      }
    }
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileBySymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(trimDot(symbol));
  }

  fileByExtension(extendee: string, fieldNumber: number): DescFile | undefined {
    return this.extensions.get(trimDot(extendee))?.get(fieldNumber);
  }

  /** Returns the extension numbers of a message type, or undefined if the type is unknown. */
  extensionNumbers(extendee: string): number[] | undefined {
    const name = trimDot(extendee);
    if (!this.messages.has(name)) {
      return undefined;
    }
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * Answers with `file` first, whether or not it was sent before, then its transitive imports
   * (breadth first) that were not yet sent on this stream; records them all as sent.
   */
  fileResponse(file: DescFile, sent: Set<string>): ReflectionAnswer {
    const fileDescriptorProto = [this.encode(file)];
    sent.add(file.proto.name);
    const visited = new Set([file.proto.name]);
    const queue = [...file.dependencies];
    for (let next = queue.shift(); next; next = queue.shift()) {
      const name = next.proto.name;
      if (visited.has(name)) {
        continue;
      }
      visited.add(name);
      if (!sent.has(name)) {
        sent.add(name);
        fileDescriptorProto.push(this.encode(next));
      }
      queue.push(...next.dependencies);
    }
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
  }

  private encode(file: DescFile): Uint8Array {
    // Serialize the indexed file of that name, so one name always means one set of bytes.
    const indexed = this.files.get(file.proto.name) ?? file;
    let bytes = this.encoded.get(indexed.proto.name);
    if (!bytes) {
      const proto = this.documented.get(indexed.proto.name) ?? indexed.proto;
      bytes = toBinary(FileDescriptorProtoSchema, proto);
      this.encoded.set(indexed.proto.name, bytes);
    }
    return bytes;
  }

  private addFile(file: DescFile): void {
    if (this.files.has(file.proto.name)) {
      return;
    }
    this.files.set(file.proto.name, file);
    for (const dependency of file.dependencies) {
      this.addFile(dependency);
    }
    this.addSymbols(file);
    for (const extension of file.extensions) {
      this.addExtension(file, extension.extendee.typeName, extension.number);
    }
    for (const message of file.messages) {
      this.addNestedExtensions(file, message);
    }
  }

  /** Indexes every symbol of the file as protoc names it, walking the compiled descriptor. */
  private addSymbols(file: DescFile): void {
    const proto = file.proto;
    const scope = proto.package ? `${proto.package}.` : "";
    for (const message of proto.messageType) {
      this.addMessage(file, scope, message);
    }
    for (const enumType of proto.enumType) {
      this.addEnum(file, scope, enumType);
    }
    this.addFields(file, scope, proto.extension);
    for (const service of proto.service) {
      const serviceName = scope + service.name;
      this.symbols.set(serviceName, file);
      for (const method of service.method) {
        this.symbols.set(`${serviceName}.${method.name}`, file);
      }
    }
  }

  private addMessage(file: DescFile, scope: string, message: DescriptorProto): void {
    const name = scope + message.name;
    this.symbols.set(name, file);
    this.messages.add(name);
    const inner = `${name}.`;
    this.addFields(file, inner, message.field);
    this.addFields(file, inner, message.extension);
    for (const oneof of message.oneofDecl) {
      this.symbols.set(inner + oneof.name, file);
    }
    for (const nested of message.nestedType) {
      this.addMessage(file, inner, nested);
    }
    for (const enumType of message.enumType) {
      this.addEnum(file, inner, enumType);
    }
  }

  private addFields(file: DescFile, scope: string, fields: readonly FieldDescriptorProto[]): void {
    for (const field of fields) {
      this.symbols.set(scope + field.name, file);
    }
  }

  /** Enum values are siblings of their enum in protoc's scoping: `pkg.ROLE_VIEWER`. */
  private addEnum(file: DescFile, scope: string, enumType: EnumDescriptorProto): void {
    this.symbols.set(scope + enumType.name, file);
    for (const value of enumType.value) {
      this.symbols.set(scope + value.name, file);
    }
  }

  private addNestedExtensions(file: DescFile, message: DescMessage): void {
    for (const extension of message.nestedExtensions) {
      this.addExtension(file, extension.extendee.typeName, extension.number);
    }
    for (const nested of message.nestedMessages) {
      this.addNestedExtensions(file, nested);
    }
  }

  private addExtension(file: DescFile, extendee: string, fieldNumber: number): void {
    let byNumber = this.extensions.get(extendee);
    if (!byNumber) {
      byNumber = new Map();
      this.extensions.set(extendee, byNumber);
    }
    if (!byNumber.has(fieldNumber)) {
      byNumber.set(fieldNumber, file);
    }
  }
}

function filesOf(input: Iterable<DescFile> | Registry): DescFile[] {
  if (!isRegistry(input)) {
    return [...input];
  }
  const files = isFileRegistry(input) ? [...input.files] : [];
  for (const desc of input) {
    files.push(desc.file);
  }
  return files;
}

function isRegistry(input: Iterable<DescFile> | Registry): input is Registry {
  return "kind" in input && input.kind === "registry";
}

function isFileRegistry(registry: Registry): registry is FileRegistry {
  return "files" in registry && "getFile" in registry;
}

function trimDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

/** True when two descriptors of a file agree apart from source info and json names. */
function sameDescriptor(a: FileDescriptorProto, b: FileDescriptorProto): boolean {
  const normalize = (f: FileDescriptorProto) => {
    const c = clone(FileDescriptorProtoSchema, f);
    c.sourceCodeInfo = undefined;
    const strip = (messages: DescriptorProto[]) => {
      for (const m of messages) {
        for (const field of [...m.field, ...m.extension]) field.jsonName = "";
        strip(m.nestedType);
      }
    };
    strip(c.messageType);
    for (const field of c.extension) field.jsonName = "";
    return toBinary(FileDescriptorProtoSchema, c);
  };
  const x = normalize(a);
  const y = normalize(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}
