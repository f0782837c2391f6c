/**
 * MAX_CONNECTIONS caps the connections open at once: with 10 open, the 11th is dropped at accept
 * and counted; once one closes, a new one is served again. The service runs as a child process.
 */
import { get as httpGet } from "node:http";
import { waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFds, type Probe, servingPid, silent } from "./support/connection-clients.js";
import { type ChildServer, spawnEcho } from "./support/harness.js";

function getText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).once("error", reject);
  });
}

describe("connection limit", () => {
  let server: ChildServer;
  let pid: number;
  const held: Probe[] = [];

  beforeAll(async () => {
    // Silent sockets stay open for the whole test: the idle timeout is far longer than it.
    server = await spawnEcho({ MAX_CONNECTIONS: "10", IDLE_SOCKET_TIMEOUT_MS: "120000" });
    pid = servingPid(server.child.pid as number);
  });
  afterAll(async () => {
    for (const p of held) p.stop();
    server?.kill("SIGKILL");
    await server?.exited;
  });

  it("drops the 11th connection while 10 are open, and serves again once one closes", async () => {
    const baseline = openFds(pid);
    for (let i = 0; i < 10; i++) held.push(await silent(server.port));
    await waitFor("the server holding 10 connections", () => openFds(pid), {
      until: (n) => n >= baseline + 10,
    });

    const eleventh = await silent(server.port);
    await waitFor("the 11th connection closed by the server", () => eleventh.closed, {
      until: (closed) => closed,
    });
    expect(held.every((p) => !p.closed)).toBe(true);

    held.shift()?.stop();
    await waitFor("the server down to 9 connections", () => openFds(pid), {
      until: (n) => n <= baseline + 9,
    });
    const res = await getText(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^lucid_connections_closed_total\{reason="limit"\} 1$/m);
    // The nine silent sockets and the one asking for /metrics.
    expect(res.body).toMatch(/^lucid_connections_open 10$/m);
  });
});
