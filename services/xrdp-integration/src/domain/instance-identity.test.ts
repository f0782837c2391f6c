import { describe, expect, it } from "vitest";
import { checkSameRequest, instanceIdFor, RequestParamsChangedError } from "./instance-identity.js";

describe("instanceIdFor()", () => {
  it("derives one lowercase version-8 UUID per request id, the same every time", () => {
    const a = instanceIdFor("6f1c2d3e-4a5b-4c6d-8e7f-901234567890");
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(instanceIdFor("6f1c2d3e-4a5b-4c6d-8e7f-901234567890")).toBe(a);
    expect(instanceIdFor("6f1c2d3e-4a5b-4c6d-8e7f-901234567891")).not.toBe(a);
  });
});

describe("checkSameRequest()", () => {
  const first = {
    serverId: "s",
    port: 3390,
    owner: "alice",
    settings: { maxSessions: 2, tlsCiphers: ["A", "B"], idle: undefined },
  };

  it("accepts the same request, whatever the key order and unset fields", () => {
    expect(() =>
      checkSameRequest("r", first, {
        owner: "alice",
        port: 3390,
        serverId: "s",
        settings: { tlsCiphers: ["A", "B"], maxSessions: 2 },
      }),
    ).not.toThrow();
  });

  it("names the first parameter that changed", () => {
    const changed = (over: object) => {
      try {
        checkSameRequest("r", first, { ...first, ...over });
        return undefined;
      } catch (e) {
        return e instanceof RequestParamsChangedError ? e.field : String(e);
      }
    };
    expect(changed({ serverId: "t" })).toBe("server_id");
    expect(changed({ port: 3391 })).toBe("port");
    expect(changed({ owner: "bob" })).toBe("owner");
    expect(changed({ settings: { maxSessions: 3 } })).toBe("settings");
  });
});
