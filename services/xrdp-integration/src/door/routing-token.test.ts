import { describe, expect, it } from "vitest";
import type { ConnectionRequest } from "../domain/x224-connection-request.js";
import { routingTokenOf, tokenHash } from "./routing-token.js";

function request(routingToken: string | undefined, cookie?: string): ConnectionRequest {
  return {
    routingToken,
    cookie,
    requestedProtocols: 3,
    bytes: new Uint8Array(),
    rest: new Uint8Array(),
  };
}

describe("routingTokenOf()", () => {
  it("takes the raw line, the Cookie: msts= form and trims trailing spaces", () => {
    expect(routingTokenOf(request("lr1-abc"))).toEqual({ kind: "token", token: "lr1-abc" });
    expect(routingTokenOf(request("Cookie: msts=lr1-abc"))).toEqual({
      kind: "token",
      token: "lr1-abc",
    });
    expect(routingTokenOf(request("lr1-abc  "))).toEqual({ kind: "token", token: "lr1-abc" });
  });

  it("calls no line or a mstshash cookie missing", () => {
    expect(routingTokenOf(request(undefined))).toEqual({ kind: "missing" });
    expect(routingTokenOf(request(undefined, "alice"))).toEqual({ kind: "missing" });
  });

  it("calls an empty, over-long or spaced token malformed", () => {
    expect(routingTokenOf(request("   ")).kind).toBe("malformed");
    expect(routingTokenOf(request("x".repeat(239))).kind).toBe("malformed");
    expect(routingTokenOf(request("x".repeat(238))).kind).toBe("token");
    expect(routingTokenOf(request("a b")).kind).toBe("malformed");
  });
});

describe("tokenHash()", () => {
  it("is 12 hex digits of the SHA-256, not the token", () => {
    expect(tokenHash("lr1-abc")).toMatch(/^[0-9a-f]{12}$/);
    expect(tokenHash("lr1-abc")).not.toBe(tokenHash("lr1-abd"));
  });
});
