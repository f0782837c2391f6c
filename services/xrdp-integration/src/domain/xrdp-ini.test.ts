import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeXrdpIni } from "../host/ini-files.js";
import { IniValueError } from "./ini-format.js";
import {
  iniError,
  injections,
  instanceDir,
  instanceId,
  settings,
  wholeValues,
} from "./ini-test-fixtures.js";
import { renderXrdpIni, type XrdpIniInput } from "./xrdp-ini.js";
import { defaultTlsCiphers, type EffectiveSettings } from "./xrdp-settings.js";

const xrdpInput: XrdpIniInput = {
  instanceId,
  instanceDir,
  listenAddress: "0.0.0.0",
  port: 3389,
  settings,
  owner: "alice",
  sesmanAddress: "127.77.0.5",
};

/**
 * Reads INI text the way xrdp 0.9.21's common/file.c does: a line ends at CR or LF, `#` or `;`
 * cut it, a line with `[...]` is a section header, name and value are split at the first `=`
 * and trimmed. Used to prove that what we render reads back exactly as meant.
 */
function readLikeXrdp(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const raw of text.split(/[\r\n]+/)) {
    const line = raw.replace(/[#;].*$/, "");
    const header = /\[([^\]]*)\]/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!.toLowerCase(), current);
      continue;
    }
    if (line.trim() === "" || current === undefined) continue;
    const at = line.indexOf("=");
    current.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  }
  return sections;
}

/** String inputs of renderXrdpIni and the field each error must name. */
const xrdpStringFields: [field: string, base: string, apply: (v: string) => XrdpIniInput][] = [
  ["settings.security_layer", "tls", (v) => withSettings({ securityLayer: v })],
  ["settings.crypt_level", "high", (v) => withSettings({ cryptLevel: v })],
  ["settings.tls_cert_path", settings.tlsCertPath, (v) => withSettings({ tlsCertPath: v })],
  ["settings.tls_key_path", settings.tlsKeyPath, (v) => withSettings({ tlsKeyPath: v })],
  ["settings.tls_protocols[1]", "TLSv1.3", (v) => withSettings({ tlsProtocols: ["TLSv1.2", v] })],
  [
    "settings.tls_ciphers[0]",
    "ECDHE-RSA-AES128-GCM-SHA256",
    (v) => withSettings({ tlsCiphers: [v, "ECDHE-RSA-AES256-GCM-SHA384"] }),
  ],
  ["instance_id", instanceId, (v) => ({ ...xrdpInput, instanceId: v })],
  ["instance_dir", instanceDir, (v) => ({ ...xrdpInput, instanceDir: v })],
  ["listen_address", "0.0.0.0", (v) => ({ ...xrdpInput, listenAddress: v })],
  ["log_level", "INFO", (v) => ({ ...xrdpInput, logLevel: v as "INFO" })],
  ["session_types[0]", "Xorg", (v) => ({ ...xrdpInput, sessionTypes: [v as "Xorg"] })],
];

function withSettings(overrides: Record<string, unknown>): XrdpIniInput {
  return { ...xrdpInput, settings: { ...settings, ...overrides } as EffectiveSettings };
}

describe("renderXrdpIni()", () => {
  it("renders the security defaults", () => {
    const text = renderXrdpIni(xrdpInput);
    const lines = text.split("\n");
    expect(lines).toContain("security_layer=tls");
    expect(lines).toContain("crypt_level=high");
    expect(lines).toContain("ssl_protocols=TLSv1.2, TLSv1.3");
    expect(lines).toContain(`tls_ciphers=${defaultTlsCiphers.join(":")}`);
    expect(lines).toContain(`certificate=${instanceDir}/tls/cert.pem`);
    expect(lines).toContain(`key_file=${instanceDir}/tls/key.pem`);
    expect(lines).toContain("port=tcp://0.0.0.0:3389");
    expect(lines).toContain("use_vsock=false");
    expect(lines).toContain("fork=true");
    expect(lines).toContain(`LogFile=${instanceDir}/xrdp-${instanceId}.log`);
    expect(lines).toContain("EnableSyslog=false");
    expect(lines).toContain("EnableConsole=true");
    expect(lines).toContain("rdpdr=false");
    expect(lines).toContain("cliprdr=true");
    expect(lines).toContain("rdpsnd=true");
    // One session type, its account fixed: xrdp never asks for a user name.
    expect(text).toContain("[Xorg]\nname=Xorg\nlib=libxup.so\nusername=alice\npassword=ask");
    expect(text).not.toContain("username=ask");
    expect(text).toContain("ip=127.77.0.5\nport=-1\ncode=20\n");
    expect(text).not.toContain("[Xvnc]");
    expect(text).not.toContain("neutrinordp");
    expect(lines).toContain("EnableProcessId=true");
  });

  it("refuses an owner that is not a local account name, and a sesman address off loopback", () => {
    // "ask..." is a valid account name, but xrdp would read it as "ask the client".
    for (const owner of [
      "",
      "Alice",
      "ask",
      "askari",
      "a b",
      "alice\nusername=bob",
      "-x",
      "a".repeat(33),
      "bob@corp",
    ]) {
      expect(iniError(() => renderXrdpIni({ ...xrdpInput, owner })).field, owner).toBe("owner");
    }
    expect(iniError(() => renderXrdpIni({ ...xrdpInput, sesmanAddress: "10.0.0.1" })).field).toBe(
      "sesman_address",
    );
  });

  it("renders no session section for a warm instance: no account can log in until the hand-out", () => {
    const { owner: _, ...warm } = xrdpInput;
    const parsed = readLikeXrdp(renderXrdpIni(warm));
    expect([...parsed.keys()]).toEqual(["globals", "logging", "channels"]);
    expect(renderXrdpIni(warm)).not.toContain("username=");
  });

  it("reads back exactly as meant with xrdp's parsing rules", () => {
    const text = renderXrdpIni(xrdpInput);
    const parsed = readLikeXrdp(text);
    expect([...parsed.keys()]).toEqual(["globals", "logging", "channels", "xorg"]);
    const globals = new Map(parsed.get("globals"));
    expect(globals.get("security_layer")).toBe("tls");
    expect(globals.get("ssl_protocols")).toBe("TLSv1.2, TLSv1.3");
    expect(globals.get("tls_ciphers")).toBe(defaultTlsCiphers.join(":"));
    // Every rendered line is a key=value pair that survives the reader unchanged.
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith(";") || line.startsWith("[")) continue;
      const [key, value] = [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)];
      const section = [...parsed.values()].find((entries) =>
        entries.some(([k, v]) => k === key && v === value),
      );
      expect(section, line).toBeDefined();
    }
  });

  it.each(xrdpStringFields)("rejects every injection into %s", (field, base, apply) => {
    for (const [label, payload] of injections) {
      for (const value of [`${base}${payload}`, `${payload}${base}`]) {
        const error = iniError(() => renderXrdpIni(apply(value)));
        expect(error.field, label).toBe(field);
        // The message never echoes the value: printable ASCII only.
        expect(error.message).toMatch(/^[\x20-\x7e]*$/);
      }
    }
    for (const [label, value] of wholeValues) {
      expect(iniError(() => renderXrdpIni(apply(value))).field, label).toBe(field);
    }
  });

  it("rejects paths with .., relative paths and odd characters", () => {
    for (const path of [
      `${instanceDir}/../../etc/shadow`,
      `${instanceDir}/..`,
      "tls/cert.pem",
      "./cert.pem",
      "~/cert.pem",
      "/tmp/cert pem",
      "/tmp/cert:pem",
      "/tmp/cert%pem",
      `/${"a".repeat(255)}`,
    ]) {
      expect(iniError(() => renderXrdpIni(withSettings({ tlsCertPath: path }))).field).toBe(
        "settings.tls_cert_path",
      );
    }
  });

  it("rejects an empty certificate path (xrdp would fall back to /etc/xrdp/cert.pem)", () => {
    expect(iniError(() => renderXrdpIni(withSettings({ tlsCertPath: "" }))).field).toBe(
      "settings.tls_cert_path",
    );
  });

  it("rejects cipher-string syntax and weak suites in place of cipher names", () => {
    for (const cipher of [
      "HIGH",
      "ALL",
      "DEFAULT",
      "!aNULL",
      "HIGH:!aNULL",
      "ECDHE+AESGCM",
      "@SECLEVEL=0",
      "ecdhe-rsa-aes128-gcm-sha256",
      "ECDHE-RSA-AES128-GCM-SHA256 ",
      "ECDHE-RSA-AES128-GCM-SHA256,AES128-SHA",
      "TLS_AES_128_GCM_SHA256",
      "ECDHE-RSA-NULL-SHA",
      "EXP-RC4-MD5",
      "DES-CBC3-SHA",
      "ADH-AES128-GCM-SHA256",
      `${"A".repeat(63)}-B`,
    ]) {
      expect(iniError(() => renderXrdpIni(withSettings({ tlsCiphers: [cipher] }))).field).toBe(
        "settings.tls_ciphers[0]",
      );
    }
  });

  it("rejects too many ciphers and a cipher line of 2048 bytes, but takes 2047", () => {
    expect(
      iniError(() =>
        renderXrdpIni(
          withSettings({ tlsCiphers: Array.from({ length: 33 }, (_, i) => `C${i}-X`) }),
        ),
      ).field,
    ).toBe("settings.tls_ciphers");
    const maxNames = Array.from(
      { length: 32 },
      (_, i) => `C${String(i).padStart(2, "0")}-${"Q".repeat(60)}`,
    );
    expect(iniError(() => renderXrdpIni(withSettings({ tlsCiphers: maxNames }))).field).toBe(
      "settings.tls_ciphers",
    );
    // "tls_ciphers=" is 12 bytes: names totalling 2035 bytes with colons make a 2047-byte line.
    const fit = (lineBytes: number) => {
      const names = maxNames.slice(0, 31);
      const used = 12 + names.join(":").length + 1;
      names.push(`Z-${"Q".repeat(lineBytes - used - 2)}`);
      return names;
    };
    const accepted = renderXrdpIni(withSettings({ tlsCiphers: fit(2047) }));
    const line = accepted.split("\n").find((l) => l.startsWith("tls_ciphers="))!;
    expect(Buffer.byteLength(line)).toBe(2047);
    const error = iniError(() => renderXrdpIni(withSettings({ tlsCiphers: fit(2048) })));
    expect(error.field).toBe("settings.tls_ciphers");
    expect(error.reason).toContain("2048 bytes");
  });

  it("rejects TLS versions before 1.2 and duplicates", () => {
    for (const protocols of [["TLSv1.1"], ["TLSv1"], ["SSLv3"], ["TLSv1.2", "TLSv1.2"], []]) {
      expect(
        iniError(() => renderXrdpIni(withSettings({ tlsProtocols: protocols }))).field,
      ).toMatch(/^settings\.tls_protocols/);
    }
  });

  it("rejects listen addresses that are not plain IPv4 literals", () => {
    for (const address of [
      "localhost",
      "::1",
      "127.0.0.01",
      "256.0.0.1",
      "127.1",
      "0x7f.0.0.1",
      "1.2.3.4:99",
      "*",
    ]) {
      expect(iniError(() => renderXrdpIni({ ...xrdpInput, listenAddress: address })).field).toBe(
        "listen_address",
      );
    }
  });

  it("rejects out-of-range and non-integer numbers and non-boolean flags", () => {
    for (const port of [0, 65_536, -1, 3389.5, Number.NaN]) {
      expect(iniError(() => renderXrdpIni({ ...xrdpInput, port })).field).toBe("port");
    }
    expect(iniError(() => renderXrdpIni(withSettings({ maxBpp: 7 }))).field).toBe(
      "settings.max_bpp",
    );
    expect(iniError(() => renderXrdpIni(withSettings({ clipboard: "true" }))).field).toBe(
      "settings.clipboard",
    );
    expect(iniError(() => renderXrdpIni(withSettings({ allowMultimon: 1 }))).field).toBe(
      "settings.allow_multimon",
    );
  });

  it("rejects instance ids that are not lowercase UUIDs", () => {
    for (const id of [
      instanceId.toUpperCase(),
      `${instanceId}x`,
      "../../etc",
      "0b5e8f2c6a434d1e9a7b3c2d1e0f9a8b",
    ]) {
      expect(iniError(() => renderXrdpIni({ ...xrdpInput, instanceId: id })).field).toBe(
        "instance_id",
      );
    }
  });
});

describe("writeXrdpIni()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ini-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the rendered file with mode 0600", async () => {
    const path = join(dir, `xrdp-${instanceId}.ini`);
    await writeXrdpIni(path, xrdpInput);
    expect(await readFile(path, "utf8")).toBe(renderXrdpIni(xrdpInput));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([`xrdp-${instanceId}.ini`]);
  });

  it("creates no file, not even a temp file, when any value is rejected", async () => {
    const path = join(dir, "xrdp.ini");
    for (const [field, base, apply] of xrdpStringFields) {
      for (const [, payload] of injections) {
        await expect(writeXrdpIni(path, apply(`${base}${payload}`)), field).rejects.toBeInstanceOf(
          IniValueError,
        );
      }
    }
    expect(await readdir(dir)).toEqual([]);
  });

  it("leaves an existing file untouched when a new render is rejected", async () => {
    const path = join(dir, "xrdp.ini");
    await writeXrdpIni(path, xrdpInput);
    const before = await readFile(path, "utf8");
    await expect(
      writeXrdpIni(path, withSettings({ securityLayer: "tls\nsecurity_layer=rdp" })),
    ).rejects.toBeInstanceOf(IniValueError);
    expect(await readFile(path, "utf8")).toBe(before);
    expect(await readdir(dir)).toEqual(["xrdp.ini"]);
  });

  it("refuses a relative or unsafe target path", async () => {
    await expect(writeXrdpIni("xrdp.ini", xrdpInput)).rejects.toBeInstanceOf(IniValueError);
    await expect(writeXrdpIni(`${dir}/../xrdp.ini`, xrdpInput)).rejects.toBeInstanceOf(
      IniValueError,
    );
    expect(await readdir(dir)).toEqual([]);
  });
});
