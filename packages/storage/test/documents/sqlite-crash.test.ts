/**
 * The SQLite adapter's file under a crash and a second process: a writer killed with SIGKILL in
 * the middle of its writes leaves a database that passes SQLite's integrity check and holds every
 * write that had returned; while the writer runs, another process cannot open the file.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tsxBin, waitFor } from "@lucid-rdp/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteStores, DatabaseInUseError, openSqliteDatabase } from "../../src/index.js";
import { testSpecs } from "./test-collections.js";

const dir = mkdtempSync(join(tmpdir(), "lucid-sqlite-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const writer = fileURLToPath(new URL("./support/sqlite-writer.ts", import.meta.url));

describe("SQLite state file", () => {
  it("refuses a second opener while one holds the file, and lets it in once closed", () => {
    const path = join(dir, "lock.sqlite");
    const first = openSqliteDatabase(path);
    expect(() => openSqliteDatabase(path, { busyTimeoutMs: 100 })).toThrow(DatabaseInUseError);
    first.close();
    openSqliteDatabase(path, { busyTimeoutMs: 100 }).close();
  });

  it("survives SIGKILL in the middle of writes: intact, with every acknowledged write", async () => {
    const path = join(dir, "crash.sqlite");
    // Its own process group: tsx runs the script in a child node process, and both are killed.
    const child = spawn(tsxBin, [writer, path], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const acked = new Map<string, number>();
    let stderr = "";
    let rest = "";
    child.stdout.on("data", (d: Buffer) => {
      const lines = (rest + d.toString()).split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) {
        const [, id, version] = l.split(" ");
        if (id !== undefined) acked.set(id, Math.max(acked.get(id) ?? 0, Number(version)));
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor("300 acknowledged writes", async () => (acked.size >= 300 ? true : undefined), {
        timeoutMs: 60_000,
        detail: () => `${acked.size} so far; stderr: ${stderr}`,
      });
      // Another process cannot open the file while the writer holds it.
      expect(() => openSqliteDatabase(path, { busyTimeoutMs: 100 })).toThrow(DatabaseInUseError);
    } finally {
      process.kill(-(child.pid as number), "SIGKILL");
      await exited;
    }
    // The default busy timeout covers the moment until the killed node process is gone.
    const db = openSqliteDatabase(path);
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const stores = createSqliteStores(db, testSpecs);
      for (const [id, version] of acked) {
        const s = await stores.servers.get(id);
        expect(s.version).toBeGreaterThanOrEqual(version);
        expect(s.createTime).toBeInstanceOf(Date);
      }
      // And it takes writes again.
      const total = await stores.servers.count({ owner: "crash" });
      expect(total).toBeGreaterThanOrEqual(acked.size);
      await stores.servers.delete([...acked.keys()][0] as string);
      expect(await stores.servers.count({ owner: "crash" })).toBe(total - 1);
    } finally {
      db.close();
    }
  });
});
