import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isRoutingTokenShaped, routingTokenFor } from "./routing-token.js";

describe("routingTokenFor()", () => {
  const key = randomBytes(32);
  const id = "0b8f2f7e-8f0c-4d7e-9a44-3c1c2b6c9e01";

  it("is stable per instance and key, and differs across instances and keys", () => {
    const token = routingTokenFor(key, id);
    expect(routingTokenFor(key, id)).toBe(token);
    expect(routingTokenFor(key, "1b8f2f7e-8f0c-4d7e-9a44-3c1c2b6c9e01")).not.toBe(token);
    expect(routingTokenFor(randomBytes(32), id)).not.toBe(token);
  });

  it("is 36 printable ASCII characters that fit the X.224 request", () => {
    const token = routingTokenFor(key, id);
    expect(token).toMatch(/^lr1-[A-Za-z0-9_-]{32}$/);
    expect(token.length % 2).toBe(0);
    expect(isRoutingTokenShaped(token)).toBe(true);
    expect(isRoutingTokenShaped(`${token}x`)).toBe(false);
    expect(isRoutingTokenShaped("Cookie: mstshash=alice")).toBe(false);
  });

  it("refuses a key of the wrong length", () => {
    expect(() => routingTokenFor(Buffer.alloc(16), id)).toThrow(/32 bytes/);
  });
});
