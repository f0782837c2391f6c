import { describe, expect, it } from "vitest";
import { isRdpHost, type RdpFileOptions, RdpFileValueError, renderRdpFile } from "./rdp-file.js";

const base: RdpFileOptions = {
  host: "node-1.lucid.example",
  port: 3390,
  width: 1920,
  height: 1080,
  colorDepth: 32,
  multimon: false,
};

function fieldOf(options: RdpFileOptions): string | undefined {
  try {
    renderRdpFile(options);
  } catch (e) {
    if (e instanceof RdpFileValueError) return e.field;
    throw e;
  }
  return undefined;
}

describe("renderRdpFile()", () => {
  it("writes every setting on its own CRLF-terminated line", () => {
    expect(renderRdpFile({ ...base, username: "alice" })).toBe(
      [
        "full address:s:node-1.lucid.example:3390",
        "screen mode id:i:1",
        "use multimon:i:0",
        "desktopwidth:i:1920",
        "desktopheight:i:1080",
        "session bpp:i:32",
        "prompt for credentials:i:1",
        "authentication level:i:2",
        "username:s:alice",
        "",
      ].join("\r\n"),
    );
  });

  it("leaves the user name out when there is none, and sets multimon", () => {
    const body = renderRdpFile({ ...base, multimon: true, colorDepth: 16 });
    expect(body).not.toContain("username");
    expect(body).toContain("use multimon:i:1\r\n");
    expect(body).toContain("session bpp:i:16\r\n");
    expect(body.split("\r\n").every((l) => !l.includes("\n") && !l.includes("\r"))).toBe(true);
  });

  it("takes IPv4 and bracketed IPv6 hosts", () => {
    expect(renderRdpFile({ ...base, host: "10.0.0.7" })).toMatch(
      /^full address:s:10\.0\.0\.7:3390\r\n/,
    );
    expect(renderRdpFile({ ...base, host: "[2001:db8::1]" })).toMatch(
      /^full address:s:\[2001:db8::1\]:3390\r\n/,
    );
    expect(renderRdpFile({ ...base, host: "[::ffff:10.0.0.7]" })).toContain(
      "[::ffff:10.0.0.7]:3390",
    );
  });

  it("refuses injection through the user name, naming the field", () => {
    for (const username of [
      "alice\r\nfull address:s:evil.example:3389",
      "alice\nalternate shell:s:cmd.exe",
      "alice\rx",
      "alice\u0000",
      "alice:s:x",
      "domain\\alice",
      "alice bob",
      "älice",
      "alice\u2028x",
      "alice\u0085x",
      ".alice",
      "-alice",
      "@alice",
      "",
      "a".repeat(65),
    ]) {
      expect(fieldOf({ ...base, username }), JSON.stringify(username)).toBe("username");
    }
    expect(fieldOf({ ...base, username: "a".repeat(64) })).toBeUndefined();
    expect(fieldOf({ ...base, username: "alice.smith@corp-1_x" })).toBeUndefined();
  });

  it("refuses hosts that are not a name or an address, naming the field", () => {
    for (const host of [
      "",
      "evil.example\r\nusername:s:admin",
      "host\n",
      "host\u0000",
      "host:3389",
      "2001:db8::1",
      "[2001:db8::1",
      "[fe80::1%eth0]",
      "[not:an:address]",
      "[10.0.0.1]",
      "256.0.0.1",
      "10.0.0",
      "010.0.0.1",
      "-host",
      "host-",
      "ho_st",
      "hösť",
      "a..b",
      "host.",
      `${"a".repeat(64)}.example`,
      `${"a.".repeat(127)}aa`,
      "user@host",
      " host",
    ]) {
      expect(fieldOf({ ...base, host }), JSON.stringify(host)).toBe("host");
      expect(isRdpHost(host)).toBe(false);
    }
  });

  it("refuses numbers out of range, naming the field", () => {
    expect(fieldOf({ ...base, port: 0 })).toBe("port");
    expect(fieldOf({ ...base, port: 65_536 })).toBe("port");
    expect(fieldOf({ ...base, port: 3389.5 })).toBe("port");
    expect(fieldOf({ ...base, width: 199 })).toBe("width");
    expect(fieldOf({ ...base, width: Number.NaN })).toBe("width");
    expect(fieldOf({ ...base, height: 8193 })).toBe("height");
    expect(fieldOf({ ...base, colorDepth: 12 })).toBe("colorDepth");
    expect(fieldOf({ ...base, multimon: "1" as unknown as boolean })).toBe("multimon");
  });

  it("writes the routing token as loadbalanceinfo, on its own CRLF line after the rest", () => {
    const token = "lr1-7Hq2xNCw9ZrTb0Yk_a.b~c-D";
    const body = renderRdpFile({ ...base, port: 3389, username: "alice", routingToken: token });
    expect(body.startsWith("full address:s:node-1.lucid.example:3389\r\n")).toBe(true);
    expect(body.endsWith(`username:s:alice\r\nloadbalanceinfo:s:${token}\r\n`)).toBe(true);
    expect(body.split("\r\n").filter((l) => l.startsWith("loadbalanceinfo"))).toHaveLength(1);
    expect(renderRdpFile(base)).not.toContain("loadbalanceinfo");
    expect(fieldOf({ ...base, routingToken: "a".repeat(200) })).toBeUndefined();
  });

  it("refuses a routing token outside the allowlist, naming the field, never cleaning it", () => {
    for (const routingToken of [
      "",
      "a".repeat(201),
      "lr1-abc\r\nfull address:s:evil.example:3389",
      "lr1-abc\n",
      "lr1-abc\r",
      "lr1 abc",
      "Cookie: msts=1.2.0000",
      "lr1-abc:s:x",
      "lr1-abc\u0000",
      "lr1-äbc",
      "lr1+abc/def=",
      "lr1-abc\u2028",
      42 as unknown as string,
    ]) {
      expect(fieldOf({ ...base, routingToken }), JSON.stringify(routingToken)).toBe("routingToken");
    }
    expect(() => renderRdpFile({ ...base, routingToken: "x\r\nalternate shell:s:cmd" })).toThrow(
      "rdp file: routingToken must be 1 to 200 letters, digits and `._~-`",
    );
  });

  it("names the field and the rule, but never echoes the value", () => {
    const bad = "x\r\nalternate shell:s:cmd";
    expect(() => renderRdpFile({ ...base, username: bad })).toThrow(
      "rdp file: username must be 1 to 64 letters, digits and `_.@-`, not starting with `.`, `@` or `-`",
    );
    try {
      renderRdpFile({ ...base, username: bad });
    } catch (e) {
      expect((e as Error).message).not.toContain("alternate shell");
    }
  });
});
