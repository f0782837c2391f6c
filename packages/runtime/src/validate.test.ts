import { create, type DescMessage, getOption, type MessageShape } from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { field as fieldRules } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError, type UnaryRequest } from "@connectrpc/connect";
import * as contracts from "@lucid-rdp/gen";
import {
  CreateServerRequestSchema,
  GetServerUsageRequestSchema,
  ListAuditEventsRequestSchema,
  StartInstanceRequestSchema,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { BadRequestSchema } from "./gen/google/rpc/error_details_pb.js";
import { validateInterceptor } from "./validate.js";

const intercept = validateInterceptor()(async () => ({}) as never);

/** The fields the validating interceptor names for `message`; empty when it passes. */
async function refusedFields<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
): Promise<string[]> {
  try {
    await intercept({
      stream: false,
      method: { input: schema },
      message,
    } as unknown as UnaryRequest);
    return [];
  } catch (e) {
    const err = ConnectError.from(e);
    expect(err.code).toBe(Code.InvalidArgument);
    return err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  }
}

/** Every message of the lucid.rdp.v1 contracts, nested ones too. */
function contractMessages(): DescMessage[] {
  const out: DescMessage[] = [];
  const add = (m: DescMessage) => {
    out.push(m);
    m.nestedMessages.forEach(add);
  };
  for (const value of Object.values(contracts)) {
    if (typeof value === "object" && value !== null && "kind" in value && value.kind === "file") {
      (value as { messages: DescMessage[] }).messages.forEach(add);
    }
  }
  return out;
}

/** The singular string fields whose contract pattern is "no control characters". */
function noControlFields() {
  return contractMessages().flatMap((message) =>
    message.fields
      .filter((f) => f.fieldKind === "scalar")
      .filter((f) => {
        const rules = getOption(f, fieldRules);
        return rules.type.case === "string" && (rules.type.value.pattern ?? "").includes("\\x00");
      })
      .map((field) => ({ message, field })),
  );
}

describe("validateInterceptor()", () => {
  describe("control characters", () => {
    const fields = noControlFields();

    it("finds every field of the contracts that refuses control characters", () => {
      expect(fields.length).toBeGreaterThanOrEqual(7);
    });

    it.each([
      ["NUL", "\u0000"],
      ["ESC", "\u001b"],
      ["DEL", "\u007f"],
      ["PAD", "\u0080"],
      ["NEL", "\u0085"],
      ["CSI", "\u009b"],
      ["APC", "\u009f"],
    ])("refuses %s in each of them, naming the field", async (_, c) => {
      for (const { message, field } of fields) {
        const msg = reflect(message);
        msg.set(field, `a${c}b`);
        expect(
          await refusedFields(message, msg.message),
          `${message.typeName}.${field.name}`,
        ).toContain(field.name);
      }
    });

    it("accepts printable non-ASCII text in them (NBSP, accents)", async () => {
      for (const { message, field } of fields) {
        const msg = reflect(message);
        msg.set(field, "café\u00a0ü");
        expect(await refusedFields(message, msg.message)).not.toContain(field.name);
      }
    });
  });

  describe("Duration and Timestamp values", () => {
    const startInstance = (waitTimeout: { seconds: bigint; nanos: number }) =>
      create(StartInstanceRequestSchema, {
        requestId: "6f1c2d3e-4a5b-4c6d-8e7f-901234567890",
        port: 33890,
        owner: "alice",
        waitTimeout,
      });

    it("accepts a Duration at the limit", async () => {
      expect(
        await refusedFields(StartInstanceRequestSchema, startInstance({ seconds: 120n, nanos: 0 })),
      ).toEqual([]);
      expect(
        await refusedFields(
          StartInstanceRequestSchema,
          startInstance({ seconds: 119n, nanos: 999_999_999 }),
        ),
      ).toEqual([]);
    });

    it.each([
      ["nanos past a second", { seconds: 120n, nanos: 1_999_999_999 }],
      ["nanos the int32 wire wrapped", { seconds: 119n, nanos: -727_379_969 }],
      ["nanos against the sign of seconds", { seconds: 1n, nanos: -1 }],
      ["seconds past 10000 years", { seconds: 315_576_000_001n, nanos: 0 }],
    ])("refuses a Duration with %s, naming the field", async (_, value) => {
      expect(await refusedFields(StartInstanceRequestSchema, startInstance(value))).toEqual([
        "wait_timeout",
      ]);
    });

    it("checks Durations in every request and in a oneof's neighbours", async () => {
      const usage = create(GetServerUsageRequestSchema, {
        target: { case: "serverId", value: "6f1c2d3e-4a5b-4c6d-8e7f-901234567890" },
        window: { seconds: 86_400n, nanos: 1_000_000_000 },
      });
      expect(await refusedFields(GetServerUsageRequestSchema, usage)).toEqual(["window"]);
      const server = create(CreateServerRequestSchema, {
        requestId: "6f1c2d3e-4a5b-4c6d-8e7f-901234567890",
        owner: "alice",
        idleTtl: { seconds: 60n, nanos: -5 },
      });
      expect(await refusedFields(CreateServerRequestSchema, server)).toEqual(["idle_ttl"]);
    });

    it.each([
      ["negative nanos", { seconds: 1_700_000_000n, nanos: -1 }],
      ["nanos past a second", { seconds: 1_700_000_000n, nanos: 1_000_000_000 }],
      ["a year past 9999", { seconds: 253_402_300_800n, nanos: 0 }],
      ["a year before 1", { seconds: -62_135_596_801n, nanos: 0 }],
    ])("refuses a Timestamp with %s, naming the field", async (_, value) => {
      const req = create(ListAuditEventsRequestSchema, { startTime: value });
      expect(await refusedFields(ListAuditEventsRequestSchema, req)).toEqual(["start_time"]);
    });

    it("accepts a Timestamp with the largest nanos", async () => {
      const req = create(ListAuditEventsRequestSchema, {
        startTime: { seconds: 1_700_000_000n, nanos: 999_999_999 },
      });
      expect(await refusedFields(ListAuditEventsRequestSchema, req)).toEqual([]);
    });
  });
});
