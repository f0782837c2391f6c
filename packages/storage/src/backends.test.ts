import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
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
      embedded: "sqlite",
      dataDir: resolve("data"),
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
    ["EMBEDDED_STATE", "disk"],
  ])("names %s when it is %j", (name, value) => {
    expect(() => read({ [name]: value })).toThrow(name);
  });

  it("names DATA_DIR when it is a file, or under one", () => {
    const dir = mkdtempSync(join(tmpdir(), "lucid-config-"));
    try {
      const file = join(dir, "f");
      writeFileSync(file, "");
      expect(() => read({ DATA_DIR: file })).toThrow(/^DATA_DIR=.*not a directory/);
      expect(() => read({ DATA_DIR: join(file, "sub") })).toThrow(/^DATA_DIR=/);
      // Not checked where it is not used.
      expect(read({ DATA_DIR: file, EMBEDDED_STATE: "memory" }).dataDir).toBe(file);
      expect(read({ DATA_DIR: join(dir, "new", "deeper") }).dataDir).toBe(
        join(dir, "new", "deeper"),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A logger whose lines the test reads. */
function capture() {
  const sink = new PassThrough();
  const lines: string[] = [];
  sink.on("data", (d: Buffer) => lines.push(...d.toString().trim().split("\n")));
  const logger = createLogger({ service: "t", destination: sink });
  const warnings = () =>
    lines
      .map((l) => JSON.parse(l) as { level: string; msg: string })
      .filter((w) => w.msg.startsWith("embedded state"));
  return { logger, warnings };
}

describe("openBackends()", () => {
  it("says in one line that memory records are lost on exit and coordination on restart", async () => {
    const { logger, warnings } = capture();
    const backends = openBackends(readStorageConfig(new EnvReader({ EMBEDDED_STATE: "memory" })), {
      logger,
      specs: sharedSpecs,
    });
    await new Promise((r) => setImmediate(r));
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.level).toBe("warn");
    expect(warnings()[0]?.msg).toBe(
      "embedded state: records in memory, lost on exit; leases, locks and events in this " +
        "process, lost on restart; one replica only (set MONGODB_URI and REDIS_URL to share)",
    );
    expect(backends.kind).toEqual({ state: "memory", coordination: "memory" });
    expect(backends.checks).toEqual([]);
    await backends.close();
  });

  it("keeps records in <DATA_DIR>/<appName>.sqlite across a reopen", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lucid-backends-"));
    try {
      const cfg = readStorageConfig(new EnvReader({ DATA_DIR: join(dir, "state") }));
      const { logger, warnings } = capture();
      const first = openBackends(cfg, { logger, specs: sharedSpecs, appName: "svc" });
      expect(first.kind).toEqual({ state: "sqlite", coordination: "memory" });
      await new Promise((r) => setImmediate(r));
      expect(warnings()[0]?.msg).toContain(
        `records in ${join(dir, "state", "svc.sqlite")}, kept across restarts`,
      );
      await first.stores.auditEvents.insert({
        id: "a1",
        time: new Date(1000),
        actorSubject: "ann",
        actorRoles: ["operator"],
        action: "session.create",
        resourceType: "session",
        resourceId: "s1",
        details: { k: "v" },
      });
      await first.close();
      const second = openBackends(cfg, { logger, specs: sharedSpecs, appName: "svc" });
      expect(await second.stores.auditEvents.get("a1")).toMatchObject({
        time: new Date(1000),
        details: { k: "v" },
        version: 1,
      });
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names DATA_DIR when another opener holds the state file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lucid-backends-"));
    try {
      const cfg = readStorageConfig(new EnvReader({ DATA_DIR: dir }));
      const { logger } = capture();
      const first = openBackends(cfg, { logger, specs: sharedSpecs, appName: "svc" });
      const t0 = Date.now();
      expect(() => openBackends(cfg, { logger, specs: sharedSpecs, appName: "svc" })).toThrow(
        /^DATA_DIR: .*svc\.sqlite is in use by another process/,
      );
      // It waited for the lock first (busy_timeout), as a restart overlapping its predecessor does.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(4_000);
      await first.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
