import { describe, expect, it } from "vitest";
import { freePort } from "../src/servers.js";

describe("freePort", () => {
  it("never hands out the same port twice in one process, even called back to back", async () => {
    const ports: number[] = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });
});
