/**
 * Properties every RPC of the contracts must have, checked on the generated descriptors: the
 * runtime relies on them (auth reads `access`, browsers use GET for NO_SIDE_EFFECTS, the validator
 * must compile every rule).
 */
import { create, getOption, hasOption } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { describe, expect, it } from "vitest";
import {
  access,
  ResourceMonitorService,
  Role,
  ServerManagerService,
  SessionControllerService,
  XrdpIntegrationService,
} from "../index.js";

const services = [
  ServerManagerService,
  XrdpIntegrationService,
  SessionControllerService,
  ResourceMonitorService,
];
const methods = services.flatMap((s) => s.methods.map((m) => [`${s.name}.${m.name}`, m] as const));

describe("contracts", () => {
  it.each(methods)("%s declares who may call it", (_, m) => {
    expect(hasOption(m, access)).toBe(true);
    const roles = getOption(m, access).roles;
    expect(roles.length).toBeGreaterThan(0);
    expect(roles).not.toContain(Role.UNSPECIFIED);
  });

  it.each(methods.filter(([, m]) => /^(Get|List)/.test(m.name)))(
    "%s is a NO_SIDE_EFFECTS read",
    (_, m) => {
      expect(m.methodKind).toBe("unary");
      expect(m.idempotency).toBe(Idempotency.NO_SIDE_EFFECTS);
    },
  );

  it.each(methods.filter(([, m]) => m.name.startsWith("Watch")))(
    "%s is a server stream",
    (_, m) => {
      expect(m.methodKind).toBe("server_streaming");
    },
  );

  it.each(methods)("%s has validation rules that compile", (_, m) => {
    const validator = createValidator();
    // An empty request may be valid or not; what must never happen is a rule that fails to
    // compile or to evaluate (a CompilationError or RuntimeError is a bug in the contract).
    const result = validator.validate(m.input, create(m.input));
    expect(result.kind).not.toBe("error");
  });

  it("rejects a Create request without its request_id", () => {
    const validator = createValidator();
    for (const m of methods.map(([, m]) => m).filter((m) => m.name.startsWith("Create"))) {
      const field = m.input.fields.find((f) => f.name === "request_id");
      expect(field, `${m.name} has request_id`).toBeDefined();
      const result = validator.validate(m.input, create(m.input));
      expect(result.kind, m.name).toBe("invalid");
      if (result.kind === "invalid") {
        expect(result.violations.map((v) => v.message).join("|"), m.name).toBeTruthy();
      }
    }
  });
});
