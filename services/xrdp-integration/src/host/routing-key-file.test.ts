import { chmod, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadOrCreateRoutingKey, routingKeyPath } from "./routing-key-file.js";

describe("loadOrCreateRoutingKey()", () => {
  it("makes a 0600 key once and reads the same key after", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routing-key-"));
    const [a, b] = await Promise.all([loadOrCreateRoutingKey(dir), loadOrCreateRoutingKey(dir)]);
    expect(a.length).toBe(32);
    expect(b.equals(a)).toBe(true);
    expect((await loadOrCreateRoutingKey(dir)).equals(a)).toBe(true);
    expect((await stat(routingKeyPath(dir))).mode & 0o777).toBe(0o600);
    expect((await readFile(routingKeyPath(dir))).equals(a)).toBe(true);
  });

  it("refuses a key others can read, or of the wrong length", async () => {
    const dir = await mkdtemp(join(tmpdir(), "routing-key-"));
    await loadOrCreateRoutingKey(dir);
    await chmod(routingKeyPath(dir), 0o644);
    await expect(loadOrCreateRoutingKey(dir)).rejects.toThrow(/readable by others/);
    await writeFile(routingKeyPath(dir), "short", { mode: 0o600 });
    await chmod(routingKeyPath(dir), 0o600);
    await expect(loadOrCreateRoutingKey(dir)).rejects.toThrow(/5 bytes/);
  });
});
