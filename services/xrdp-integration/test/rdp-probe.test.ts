/**
 * The RDP probe against real xrdp (Debian 12: 0.9.21): it finds the server ready, reports the
 * protocol xrdp selects, and leaves no ERROR line in xrdp's log, however often it probes.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { listChildren } from "@lucid-rdp/proc";
import { findTool, freePort, reportMissingTool, waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeRdp, probeUntilReady } from "../src/host/rdp-probe.js";
import { distIni, withSettings } from "./support/with-settings.js";

const run = promisify(execFile);
const install = "apt-get install -y xrdp";

describe("probeRdp() against real xrdp with security_layer=tls", () => {
  let dir: string | undefined;
  let xrdp: ChildProcess | undefined;
  let output = "";
  let port = 0;
  let log = "";

  beforeAll(async () => {
    // Debian installs xrdp in /usr/sbin, which a non-root PATH may lack.
    const bin =
      process.env.XRDP_BIN ??
      (existsSync("/usr/sbin/xrdp") ? "/usr/sbin/xrdp" : findTool("xrdp", install));
    const openssl = findTool("openssl", "apt-get install -y openssl");
    if (!existsSync(distIni) && process.env.CI === "true") {
      throw new Error(`${distIni} missing: ${install}`);
    }
    if (bin === undefined || openssl === undefined || !existsSync(distIni)) return;
    dir = await mkdtemp(join(tmpdir(), "xrdp-probe-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    await run(openssl, [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"],
      ...["-keyout", key, "-out", cert],
    ]);
    log = join(dir, "xrdp.log");
    port = await freePort();
    const ini = join(dir, "xrdp.ini");
    const settings = {
      Globals: {
        port: `tcp://127.0.0.1:${port}`,
        security_layer: "tls",
        certificate: cert,
        key_file: key,
      },
      Logging: { LogFile: log, LogLevel: "INFO", EnableSyslog: "false" },
    };
    await writeFile(ini, withSettings(await readFile(distIni, "utf8"), settings), { mode: 0o600 });
    xrdp = spawn(bin, ["--nodaemon", "--config", ini], {
      detached: true, // its own process group, killed as a whole in afterAll
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    xrdp.stdout?.on("data", collect);
    xrdp.stderr?.on("data", collect);
  });

  afterAll(async () => {
    if (xrdp?.pid !== undefined && xrdp.exitCode === null && xrdp.signalCode === null) {
      const exited = once(xrdp, "exit");
      process.kill(-xrdp.pid, "SIGKILL");
      await exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("finds it ready, then probes it 5 times without an ERROR line in its log", async (ctx) => {
    if (xrdp?.pid === undefined) {
      reportMissingTool("xrdp (or openssl, or /etc/xrdp/xrdp.ini)", install, ctx.task.name);
      ctx.skip();
      return;
    }
    const ready = await probeUntilReady("127.0.0.1", port, { deadlineMs: 15_000, intervalMs: 100 });
    expect(ready, `xrdp output:\n${output}`).toEqual({ ok: true, selectedProtocol: "tls" });
    for (let i = 0; i < 5; i++) {
      expect(await probeRdp("127.0.0.1", port, { timeoutMs: 5_000 })).toEqual(ready);
    }
    // Each connection has a child process of its own, which logs until it exits.
    const alive = () => listChildren(xrdp?.pid ?? 0).filter((child) => child.state !== "Z");
    await waitFor("every probe child gone", () => alive().length === 0, {
      until: (gone) => gone,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const text = await readFile(log, "utf8");
    expect(text.match(/connection (received|accepted) from/g), text).toHaveLength(6);
    expect(
      text.split("\n").filter((line) => line.includes("[ERROR]")),
      text,
    ).toEqual([]);
  });
});
