import { describe, expect, it } from "vitest";
import { isUserName } from "./user-name.js";

describe("isUserName()", () => {
  it("follows CreateSessionRequest.user", () => {
    for (const ok of ["a", "alice", "_svc", "alice.smith@corp-1", "9", "a".repeat(64)]) {
      expect(isUserName(ok), ok).toBe(true);
    }
    for (const bad of ["", ".a", "@a", "-a", "a:b", "a b", "a\n", "ä", "a".repeat(65)]) {
      expect(isUserName(bad), JSON.stringify(bad)).toBe(false);
    }
  });
});
