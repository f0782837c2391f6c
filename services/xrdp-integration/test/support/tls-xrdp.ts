/**
 * A real xrdp (the distribution's, Debian 12: 0.9.21) on a free loopback port with
 * security_layer=tls and a throwaway certificate, in its own process group: what the probe and
 * routing-token tests talk to.
 */
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findTool, freePort } from "@lucid-rdp/testing";
import { distIni, withSettings } from "./with-settings.js";

const run = promisify(execFile);

/** How to install what startTlsXrdp needs. */
export const installXrdp = "apt-get install -y xrdp";

/** A started xrdp. */
export interface TlsXrdp {
  readonly pid: number;
  readonly port: number;
  /** Its log file (LogLevel INFO). */
  readonly log: string;
  /** What it printed on stdout and stderr so far. */
  output(): string;
  /** Kills its process group and removes its files. */
  stop(): Promise<void>;
}

/**
 * Starts xrdp; resolves undefined when xrdp, openssl or the distribution's xrdp.ini is missing
 * (the caller reports it), except that a missing xrdp.ini throws under CI=true.
 */
export async function startTlsXrdp(prefix: string): Promise<TlsXrdp | undefined> {
  // Debian installs xrdp in /usr/sbin, which a non-root PATH may lack.
  const bin =
    process.env.XRDP_BIN ??
    (existsSync("/usr/sbin/xrdp") ? "/usr/sbin/xrdp" : findTool("xrdp", installXrdp));
  const openssl = findTool("openssl", "apt-get install -y openssl");
  if (!existsSync(distIni) && process.env.CI === "true") {
    throw new Error(`${distIni} missing: ${installXrdp}`);
  }
  if (bin === undefined || openssl === undefined || !existsSync(distIni)) return undefined;
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const [cert, key, log] = [join(dir, "cert.pem"), join(dir, "key.pem"), join(dir, "xrdp.log")];
  await run(openssl, [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test"],
    ...["-keyout", key, "-out", cert],
  ]);
  const port = await freePort();
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
  const xrdp = spawn(bin, ["--nodaemon", "--config", ini], {
    detached: true, // its own process group, killed as a whole by stop()
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  xrdp.stdout?.on("data", collect);
  xrdp.stderr?.on("data", collect);
  const pid = xrdp.pid;
  if (pid === undefined) throw new Error(`xrdp did not start: ${output}`);
  return {
    pid,
    port,
    log,
    output: () => output,
    async stop() {
      if (xrdp.exitCode === null && xrdp.signalCode === null) {
        const exited = once(xrdp, "exit");
        process.kill(-pid, "SIGKILL");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
