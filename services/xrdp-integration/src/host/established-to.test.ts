import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { endianness } from "node:os";
import { fixtureReader, tcp6Fixture, tcpFixture } from "@lucid-rdp/proc/tcp-fixtures";
import { skipOrFail } from "@lucid-rdp/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { establishedTo } from "./established-to.js";

// The fixtures are /proc/net/tcp as a little-endian host (x86-64, arm64) writes it: on another
// host this file fails loudly rather than skipping.
beforeAll(() => {
  expect(endianness(), "fixtures assume a little-endian host").toBe("LE");
});

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
      return skipOrFail(ctx, `no IPv6 listener (${err})`);
    }
    const byPort = await establishedTo(new Set([pair.serverPort]));
    expect(byPort.get(pair.serverPort)).toEqual([
      { address: "::ffff:127.0.0.1", port: pair.clientPort },
    ]);
  });
});
