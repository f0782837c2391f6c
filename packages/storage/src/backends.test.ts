import { PassThrough } from "node:stream";
import { createLogger, EnvReader } from "@lucid-rdp/runtime";
import { describe, expect, it } from "vitest";
import { openBackends } from "./backends.js";
import { readStorageConfig } from "./config.js";
import { sharedSpecs } from "./stores/stores.js";

describe("readStorageConfig()", () => {
  const read = (env: Record<string, string>) => readStorageConfig(new EnvReader(env));

  it("defaults to embedded backends, majority writes, 24 h request ids and 30 d of audit", () => {
    expect(read({})).toEqual({
      mongoUri: undefined,
      mongoDb: "lucid_rdp",
      writeConcern: "majority",
      redisUrl: undefined,
      idempotencyTtlMs: 86_400_000,
      auditRetentionMs: 30 * 86_400_000,
    });
  });

  it("reads the backends and a numeric write concern", () => {
    expect(
      read({
        MONGODB_URI: "mongodb://db:27017/?replicaSet=rs0",
        REDIS_URL: "redis://cache:6379/0",
        MONGODB_WRITE_CONCERN: "2",
      }),
    ).toMatchObject({
      mongoUri: "mongodb://db:27017/?replicaSet=rs0",
      redisUrl: "redis://cache:6379/0",
      writeConcern: 2,
    });
  });

  it.each([
    ["MONGODB_URI", "http://db"],
    ["REDIS_URL", "cache:6379"],
    ["MONGODB_WRITE_CONCERN", "all"],
    ["MONGODB_DB", "bad name!"],
    ["IDEMPOTENCY_TTL_MS", "5"],
  ])("names %s when it is %j", (name, value) => {
    expect(() => read({ [name]: value })).toThrow(name);
  });
});

describe("openBackends()", () => {
  it("says once and loudly that embedded state is lost on exit", async () => {
    const sink = new PassThrough();
    const lines: string[] = [];
    sink.on("data", (d: Buffer) => lines.push(...d.toString().trim().split("\n")));
    const logger = createLogger({ service: "t", destination: sink });
    const backends = openBackends(readStorageConfig(new EnvReader({})), {
      logger,
      specs: sharedSpecs,
    });
    await new Promise((r) => setImmediate(r));
    const warnings = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
    const embedded = warnings.filter((w) => w.msg.startsWith("EMBEDDED STATE"));
    expect(embedded).toHaveLength(1);
    expect(embedded[0]?.level).toBe("warn");
    expect(embedded[0]?.msg).toContain("LOST ON EXIT");
    expect(embedded[0]?.msg).toContain("MONGODB_URI and REDIS_URL");
    expect(backends.kind).toEqual({ state: "memory", coordination: "memory" });
    expect(backends.checks).toEqual([]);
    await backends.close();
  });
});
