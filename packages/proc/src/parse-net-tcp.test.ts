import { endianness } from "node:os";
import { beforeAll, describe, expect, it } from "vitest";
import { formatIPv6, parseProcNetTcp } from "./parse-net-tcp.js";
import { tcp6Fixture, tcpFixture, tcpHeader } from "./tcp-fixtures.test-data.js";

// The fixtures are /proc/net/tcp as a little-endian host (x86-64, arm64) writes it: on another
// host this file fails loudly rather than skipping.
beforeAll(() => {
  expect(endianness(), "fixtures assume a little-endian host").toBe("LE");
});

describe("parseProcNetTcp() on a little-endian host", () => {
  it("decodes IPv4 rows: 0100007F:1F90 is 127.0.0.1:8080", () => {
    expect(parseProcNetTcp(tcpFixture, 4)).toEqual([
      {
        family: 4,
        localAddress: "127.0.0.1",
        localPort: 8080,
        remoteAddress: "0.0.0.0",
        remotePort: 0,
        state: "LISTEN",
        inode: 41001,
      },
      {
        family: 4,
        localAddress: "127.0.0.1",
        localPort: 8080,
        remoteAddress: "127.0.0.1",
        remotePort: 54321,
        state: "ESTABLISHED",
        inode: 41002,
      },
      {
        family: 4,
        localAddress: "10.1.2.3",
        localPort: 3389,
        remoteAddress: "192.168.0.20",
        remotePort: 50000,
        state: "TIME_WAIT",
        inode: 0,
      },
    ]);
  });

  it("decodes IPv6 rows as four host-order words, IPv4-mapped ones in dotted form", () => {
    const rows = parseProcNetTcp(tcp6Fixture, 6);
    expect(
      rows.map((r) => [r.localAddress, r.localPort, r.remoteAddress, r.remotePort, r.state]),
    ).toEqual([
      ["::ffff:127.0.0.1", 3389, "::ffff:127.0.0.1", 40000, "ESTABLISHED"],
      ["::1", 3389, "2001:db8::1:0:0:1", 443, "ESTABLISHED"],
      ["fe80::1", 22, "::", 0, "LISTEN"],
    ]);
    expect(rows.map((r) => r.family)).toEqual([6, 6, 6]);
  });

  it("skips unknown state codes and throws on a row that is not the kernel's format", () => {
    const unknown = `${tcpHeader}\n   0: 0100007F:1F90 00000000:0000 0C 00000000:00000000 00:00000000 00000000 0 0 7 1\n`;
    expect(parseProcNetTcp(unknown, 4)).toEqual([]);
    expect(() => parseProcNetTcp(`${tcpHeader}\n   0: 7F000001 00000000:0000 0A\n`, 4)).toThrow(
      /malformed/,
    );
    // An IPv6-sized address in the IPv4 table.
    const wide = `${tcpHeader}\n   0: 00000000000000000000000001000000:0016 00000000:0000 0A 0:0 0:0 0 0 0 9 1\n`;
    expect(() => parseProcNetTcp(wide, 4)).toThrow(/malformed address/);
  });
});

describe("formatIPv6()", () => {
  const hex = (s: string) => Buffer.from(s.replaceAll(":", ""), "hex");
  it("writes RFC 5952 text", () => {
    expect(formatIPv6(hex("0000:0000:0000:0000:0000:0000:0000:0000"))).toBe("::");
    expect(formatIPv6(hex("0000:0000:0000:0000:0000:0000:0000:0001"))).toBe("::1");
    expect(formatIPv6(hex("2001:0db8:0000:0000:0001:0000:0000:0001"))).toBe("2001:db8::1:0:0:1");
    expect(formatIPv6(hex("2001:0db8:0000:0001:0001:0001:0001:0001"))).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIPv6(hex("2001:0db8:0000:0000:0000:0000:0002:0001"))).toBe("2001:db8::2:1");
    expect(formatIPv6(hex("fe80:0000:0000:0000:0000:0000:0000:0000"))).toBe("fe80::");
    expect(formatIPv6(hex("0000:0000:0000:0000:0000:ffff:c0a8:0014"))).toBe("::ffff:192.168.0.20");
  });
});
