import { describe, expect, it } from "vitest";
import { safeReason, safeReasonMaxChars } from "./safe-reason.js";

describe("safeReason()", () => {
  it("keeps a reason without credentials as it is", () => {
    expect(safeReason("connect ECONNREFUSED 127.0.0.1:6379")).toBe(
      "connect ECONNREFUSED 127.0.0.1:6379",
    );
  });

  it("redacts the userinfo of URLs, keeping scheme, host and port", () => {
    expect(
      safeReason("failed to connect to mongodb://lucid:s3cret@db.internal:27017/lucid_rdp"),
    ).toBe("failed to connect to mongodb://[redacted]@db.internal:27017/lucid_rdp");
    expect(safeReason("redis://:hunter2@10.0.0.5:6379 refused")).toBe(
      "redis://[redacted]@10.0.0.5:6379 refused",
    );
  });

  it("redacts password, secret and token parameters and bearer tokens", () => {
    const out = safeReason(
      "bad uri ?authSource=admin&password=p4ss token=abc.def Bearer eyJhbGciOi.x.y secret: 'shh'",
    );
    expect(out).not.toMatch(/p4ss|abc\.def|eyJhbGciOi|shh/);
    expect(out).toContain("authSource=admin");
    expect(out).toContain("password=[redacted]");
  });

  it("keeps the first line only, and at most 200 characters", () => {
    expect(safeReason("Error: boom\n    at f (file.ts:1:1)")).toBe("Error: boom");
    const long = safeReason("x".repeat(1000));
    expect(long).toHaveLength(safeReasonMaxChars);
    expect(long.endsWith("…")).toBe(true);
  });
});
