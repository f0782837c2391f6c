import { describe, expect, it } from "vitest";
import { stableUuid } from "./stable-uuid.js";

describe("stableUuid()", () => {
  it("gives the same id for the same seed, and another for another seed", () => {
    expect(stableUuid("create-server:r1")).toBe(stableUuid("create-server:r1"));
    expect(stableUuid("create-server:r1")).not.toBe(stableUuid("create-server:r2"));
  });

  it("has the UUID layout, version 4 and the RFC variant", () => {
    expect(stableUuid("x")).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("keeps the ids already stored: the SHA-256 hex digest cut into the layout", () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(stableUuid("abc")).toBe("ba7816bf-8f01-4fea-8141-40de5dae2223");
  });
});
