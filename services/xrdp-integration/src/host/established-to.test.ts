import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { endianness } from "node:os";
import type { ProcFileReader } from "@lucid-rdp/proc";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { establishedTo } from "./established-to.js";

// The fixtures are /proc/net/tcp as a little-endian host (x86-64, arm64) writes it: on another
// host this file fails loudly rather than skipping.
beforeAll(() => {
  expect(endianness(), "fixtures assume a little-endian host").toBe("LE");
});

// Rows as a little-endian kernel prints them (the words are host-order integers).
const tcpHeader =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const tcp6Header =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
const tcpFixture = [
  tcpHeader,
  // 127.0.0.1:8080 listening
  "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 41001 1 0000000000000000 100 0 0 10 0",
  // 127.0.0.1:8080 <- 127.0.0.1:54321 (D431)
  "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 41002 1 0000000000000000 20 4 30 10 -1",
  // 10.1.2.3:3389 <- 192.168.0.20:50000 (C350), TIME_WAIT, no inode
  "   2: 0302010A:0D3D 1400A8C0:C350 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000",
  "",
].join("\n");
const tcp6Fixture = [
  tcp6Header,
  // [::ffff:127.0.0.1]:3389 <- [::ffff:127.0.0.1]:40000 (9C40)
  "   0: 0000000000000000FFFF00000100007F:0D3D 0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 52001 1 0000000000000000 20 4 30 10 -1",
  // [::1]:3389 <- [2001:db8::1:0:0:1]:443 (01BB)
  "   1: 00000000000000000000000001000000:0D3D B80D0120000000000000010001000000:01BB 01 00000000:00000000 00:00000000 00000000     0        0 52002 1 0000000000000000 20 4 30 10 -1",
  // [fe80::1]:22 listening
  "   2: 000080FE000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 52003 1 0000000000000000 100 0 0 10 0",
  "",
].join("\n");

function fixtureReader(files: Record<string, string>): ProcFileReader {
  return async (path) => {
    const text = files[path];
    if (text === undefined) {
      throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
    }
    return text;
  };
}

describe("establishedTo()", () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(
      servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  });

  /** Listens on `host`, connects a client to `connectTo`; resolves once both ends are up. */
  async function connectPair(host: string, connectTo: string) {
    const server = createServer((socket) => sockets.push(socket));
    servers.push(server);
    server.listen(0, host);
    await once(server, "listening");
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const accepted = once(server, "connection");
    const client = connect({ host: connectTo, port: address.port });
    sockets.push(client);
    await once(client, "connect");
    await accepted;
    return { serverPort: address.port, clientPort: client.localPort ?? 0 };
  }

  it("keeps ESTABLISHED rows of the given ports only", async () => {
    const files = { "/proc/net/tcp": tcpFixture, "/proc/net/tcp6": tcp6Fixture };
    const byPort = await establishedTo(new Set([8080, 3389, 9999]), {
      readFile: fixtureReader(files),
    });
    expect(byPort).toEqual(
      new Map([
        [8080, [{ address: "127.0.0.1", port: 54321 }]],
        [
          3389,
          [
            { address: "::ffff:127.0.0.1", port: 40000 },
            { address: "2001:db8::1:0:0:1", port: 443 },
          ],
        ],
        [9999, []],
      ]),
    );
  });

  it("sees a live loopback connection with the client's port as the peer", async () => {
    const { serverPort, clientPort } = await connectPair("127.0.0.1", "127.0.0.1");
    const byPort = await establishedTo(new Set([serverPort]));
    expect(byPort.get(serverPort)).toEqual([{ address: "127.0.0.1", port: clientPort }]);
  });

  it("sees an IPv4 client of a dual-stack server as ::ffff:127.0.0.1", async (ctx) => {
    let pair: { serverPort: number; clientPort: number };
    try {
      pair = await connectPair("::", "127.0.0.1");
    } catch (err) {
      process.stderr.write(`\n!!! SKIPPED "${ctx.task.name}": no IPv6 listener (${err})\n\n`);
      ctx.skip();
      return;
    }
    const byPort = await establishedTo(new Set([pair.serverPort]));
    expect(byPort.get(pair.serverPort)).toEqual([
      { address: "::ffff:127.0.0.1", port: pair.clientPort },
    ]);
  });
});
