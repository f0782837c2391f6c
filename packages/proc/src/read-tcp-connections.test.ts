import { describe, expect, it } from "vitest";
import { readTcpConnections } from "./read-tcp-connections.js";
import { fixtureReader, tcpFixture, tcpHeader } from "./tcp-fixtures.test-data.js";

describe("readTcpConnections()", () => {
  it("reads both tables and treats a missing tcp6 (IPv6 disabled) as empty", async () => {
    const both = await readTcpConnections({
      readFile: fixtureReader({ "/proc/net/tcp": tcpFixture, "/proc/net/tcp6": tcpHeader }),
    });
    expect(both).toHaveLength(3);
    const v4Only = await readTcpConnections({
      readFile: fixtureReader({ "/proc/net/tcp": tcpFixture }),
    });
    expect(v4Only).toHaveLength(3);
  });
});
