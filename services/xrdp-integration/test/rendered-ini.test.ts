/**
 * The rendered files against the real binaries: xrdp 0.9.21 starts from a rendered xrdp.ini,
 * listens, answers an RDP X.224 Connection Request, requires TLS, serves the instance's
 * certificate with the configured versions and ciphers, and reads back the values we wrote;
 * xrdp-sesman --dump-config reads back the rendered sesman.ini.
 *
 * Under CI=true a missing xrdp fails the file (findTool throws); locally the tests skip loudly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { findTool, reportMissingTool } from "@lucid-rdp/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { instancePaths } from "../src/domain/instance-paths.js";
import { resolveSettings } from "../src/domain/resolve-settings.js";
import { defaultFloor, defaultSettings, defaultTlsCiphers } from "../src/domain/xrdp-settings.js";
import { writeSesmanIni, writeXrdpIni } from "../src/host/ini-files.js";
import { ensureTlsMaterial } from "../src/host/tls-material-files.js";

const install = "apt-get install -y xrdp";
const xrdpBin = findTool("xrdp", install);
const sesmanBin = findTool("xrdp-sesman", install);
const opensslBin = findTool("openssl", "apt-get install -y openssl");

/** A child process with its combined output so far. */
interface Running {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<void>;
}

let root: string;
const running: Running[] = [];

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "xrdp-process-"));
});
afterEach(async () => {
  await Promise.all(running.splice(0).map(stop));
  await rm(root, { recursive: true, force: true });
});

function tools(ctx: { skip: () => void; task: { name: string } }) {
  if (xrdpBin === undefined || sesmanBin === undefined || opensslBin === undefined) {
    reportMissingTool("xrdp", install, ctx.task.name);
    ctx.skip();
    throw new Error("unreachable");
  }
  return { xrdp: xrdpBin, sesman: sesmanBin, openssl: opensslBin };
}

/** Spawns without a shell, in its own process group, with a minimal environment. */
function start(bin: string, args: string[]): Running {
  const child = spawn(bin, args, {
    detached: true,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const entry = { child, output: () => output, exited };
  running.push(entry);
  return entry;
}

/** SIGTERM to the process group (xrdp forks per connection), SIGKILL after 5 s. */
async function stop(entry: Running): Promise<void> {
  const pid = entry.child.pid;
  if (pid === undefined || entry.child.exitCode !== null || entry.child.signalCode !== null) return;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pid, name);
    } catch {
      // already gone
    }
  };
  signal("SIGTERM");
  const killed = setTimeout(() => signal("SIGKILL"), 5000);
  await entry.exited;
  clearTimeout(killed);
  signal("SIGKILL"); // forked connection children, if any are left
}

/**
 * Polls a log file for `text` until `timeoutMs`; fails early if the process exits. xrdp writes
 * its log file unbuffered, while its stdout to a pipe is block-buffered until exit, so readiness
 * is read from the file and --dump-config output (stdout) only after a clean stop.
 */
async function waitForLog(
  entry: Running,
  logFile: string,
  text: string,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await readFile(logFile, "utf8").catch(() => "");
    if (log.includes(text)) return log;
    if (entry.child.exitCode !== null || entry.child.signalCode !== null) {
      throw new Error(`process exited before logging "${text}":\n${entry.output()}\n${log}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for "${text}":\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const PROTOCOL_RDP = 0;
const PROTOCOL_SSL = 1;

/**
 * Sends an X.224 Connection Request with an RDP Negotiation Request for `protocols` and returns
 * the socket and the 19-byte Connection Confirm.
 */
async function x224(port: number, protocols: number): Promise<{ socket: Socket; confirm: Buffer }> {
  const socket = netConnect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const request = Buffer.from([
    // TPKT: version 3, length 19
    0x03,
    0x00,
    0x00,
    0x13,
    // X.224 CR: length 14, CR code, dst-ref, src-ref, class 0
    0x0e,
    0xe0,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    // RDP_NEG_REQ: type 1, flags 0, length 8, requestedProtocols
    0x01,
    0x00,
    0x08,
    0x00,
    protocols,
    0x00,
    0x00,
    0x00,
  ]);
  socket.write(request);
  const confirm = await new Promise<Buffer>((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length >= 19) {
        socket.off("data", onData);
        resolve(buffer.subarray(0, 19));
      }
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed after ${buffer.length} bytes`)));
  });
  return { socket, confirm };
}

/** Runs a TLS handshake over a socket that got a Connection Confirm selecting TLS. */
async function handshake(
  socket: Socket,
  options: { maxVersion?: "TLSv1.2" | "TLSv1.3"; ciphers?: string } = {},
): Promise<TLSSocket> {
  const secure = tlsConnect({ socket, rejectUnauthorized: false, ...options });
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", reject);
  });
  return secure;
}

describe("renderXrdpIni() with the real xrdp", () => {
  it("starts xrdp from the rendered file: it listens, requires TLS and uses our certificate, versions and ciphers", async (ctx) => {
    const bin = tools(ctx);
    const id = randomUUID();
    const paths = instancePaths(root, id);
    await mkdir(paths.dir, { mode: 0o700 });
    const material = await ensureTlsMaterial(paths.tlsDir, {
      commonName: "localhost",
      openssl: bin.openssl,
    });
    const port = await freePort();
    await writeXrdpIni(paths.xrdpIni, {
      instanceId: id,
      instanceDir: paths.dir,
      listenAddress: "127.0.0.1",
      port,
      owner: "alice",
      sesmanAddress: "127.0.0.1",
      settings: {
        ...resolveSettings({}, defaultSettings, defaultFloor),
        tlsCertPath: material.certPath,
        tlsKeyPath: material.keyPath,
      },
      logLevel: "DEBUG",
    });

    const xrdp = start(bin.xrdp, [
      "--nodaemon",
      "--dump-config",
      "--port",
      `tcp://127.0.0.1:${port}`,
      "--config",
      paths.xrdpIni,
    ]);
    await waitForLog(xrdp, paths.logFile, `listening to port ${port} on 127.0.0.1`);

    // The port answers an X.224 Connection Request and selects TLS.
    const tls13 = await x224(port, PROTOCOL_SSL);
    expect(tls13.confirm.subarray(0, 4)).toEqual(Buffer.from([0x03, 0x00, 0x00, 0x13]));
    expect(tls13.confirm[5]).toBe(0xd0); // Connection Confirm
    expect(tls13.confirm[11]).toBe(0x02); // RDP_NEG_RSP
    expect(tls13.confirm.readUInt32LE(15)).toBe(PROTOCOL_SSL);
    const secure13 = await handshake(tls13.socket);
    expect(secure13.getProtocol()).toBe("TLSv1.3");
    const peer = secure13.getPeerCertificate();
    expect(peer.fingerprint256.replaceAll(":", "").toLowerCase()).toBe(material.sha256);
    secure13.destroy();

    // TLS 1.2 negotiates one of our ciphers and nothing else.
    const tls12 = await x224(port, PROTOCOL_SSL);
    const secure12 = await handshake(tls12.socket, { maxVersion: "TLSv1.2" });
    expect(secure12.getProtocol()).toBe("TLSv1.2");
    expect(defaultTlsCiphers).toContain(secure12.getCipher().name);
    secure12.destroy();
    const weak = await x224(port, PROTOCOL_SSL);
    await expect(
      handshake(weak.socket, { maxVersion: "TLSv1.2", ciphers: "AES128-GCM-SHA256" }),
    ).rejects.toThrow();
    weak.socket.destroy();

    // A client offering classic RDP security only is refused: SSL_REQUIRED_BY_SERVER.
    const rdpOnly = await x224(port, PROTOCOL_RDP);
    expect(rdpOnly.confirm[11]).toBe(0x03); // RDP_NEG_FAILURE
    expect(rdpOnly.confirm.readUInt32LE(15)).toBe(0x01);
    rdpOnly.socket.destroy();

    // xrdp logs (DEBUG) every key it read: ours, unchanged.
    const log = await waitForLog(xrdp, paths.logFile, "item tls_ciphers");
    expect(log).toContain("item security_layer, value tls\n");
    expect(log).toContain("item ssl_protocols, value TLSv1.2, TLSv1.3\n");
    expect(log).toContain("TLSv1.2 enabled");
    expect(log).toContain("TLSv1.3 enabled");
    expect(log).toContain(`item tls_ciphers, value ${defaultTlsCiphers.join(":")}\n`);
    expect(log).toContain(`item certificate, value ${material.certPath}\n`);
    expect(log).toContain(`item key_file, value ${material.keyPath}\n`);
    expect(log).not.toMatch(/not recognized|undefined/);

    await stop(xrdp);
    expect(await bindable(port)).toBe(true);
    // --dump-config of xrdp 0.9.21 prints the logging configuration it read (stdout, flushed at exit).
    expect(xrdp.output()).toMatch(new RegExp(`LogFile:\\s+${escapeRegExp(paths.logFile)}\\r?\\n`));
    expect(xrdp.output()).toMatch(/LogLevel:\s+\[DEBUG\]/);
  });
});

describe("renderSesmanIni() with the real xrdp-sesman", () => {
  it("reads back the rendered limits and root rule with --dump-config", async (ctx) => {
    const bin = tools(ctx);
    const port = await freePort();
    const config = join(root, "sesman.ini");
    await writeSesmanIni(config, {
      settings: resolveSettings({}, defaultSettings, defaultFloor),
      logFile: join(root, "sesman.log"),
      listenPort: port,
    });
    const sesman = start(bin.sesman, ["--nodaemon", "--dump-config", "--config", config]);
    await waitForLog(sesman, join(root, "sesman.log"), "starting xrdp-sesman");
    await stop(sesman);
    // stdout is a pipe, flushed when sesman exits.
    const dump = sesman.output();
    expect(dump).toContain("PULSE_SCRIPT=/etc/xrdp/pulse/default.pa");
    expect(dump).toMatch(/ListenAddress:\s+127\.0\.0\.1\n/);
    expect(dump).toMatch(new RegExp(`ListenPort:\\s+${port}\\n`));
    expect(dump).toMatch(/AllowRootLogin:\s+0\n/);
    expect(dump).toMatch(/MaxLoginRetry:\s+3\n/);
    expect(dump).toMatch(/MaxSessions:\s+10\n/);
    expect(dump).toMatch(/KillDisconnected:\s+1\n/);
    expect(dump).toMatch(/IdleTimeLimit:\s+3600\n/);
    expect(dump).toMatch(/DisconnectedTimeLimit:\s+28800\n/);
    expect(dump).toMatch(/Policy:\s+0\n/);
    expect(dump).toMatch(/TSUsersGroup:\s+/);
    expect(dump).toMatch(/Parameter 00\s+\/usr\/lib\/xorg\/Xorg\n/);
    expect(dump).toMatch(/Parameter 07\s+\.xorgxrdp\.%s\.log\n/);
    expect(dump).toMatch(/Parameter 00\s+Xvnc\n/);
    expect(dump).toMatch(
      new RegExp(`LogFile:\\s+${escapeRegExp(join(root, "sesman.log"))}\\r?\\n`),
    );
  });
});
