/**
 * Each instance's own xrdp-sesman. xrdp asks the sesman at the `ip` of its session section, on the
 * port that /etc/xrdp/sesman.ini names (xrdp 0.9.21 xrdp_mm.c reads that file whatever
 * `--config` says), so an instance's sesman listens on an address of 127.0.0.0/8 of its own, on
 * that port. It starts the instance's desktops on the instance's block of displays only.
 *
 * What this buys: a desktop belongs to exactly one instance (its sesman's children), so ending an
 * instance ends its desktops and nothing else; two instances of one user never share a desktop;
 * and two services on one host never reach each other's sesman.
 *
 * sesman and its desktops run in their own process group, with output to a file (never a pipe to
 * the service), so they outlive a restart of the service, which adopts them.
 */
import { randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { DisplayBlock } from "../domain/display-blocks.js";
import { renderSesmanIni, type SesmanSettings } from "../domain/sesman-ini.js";
import { writeFileAtomic } from "../host/write-file-atomic.js";
import { type ProcessHandle, spawnProcess } from "./process-handle.js";
import { inSockdirNamespace, type SockdirNamespace } from "./sockdir-namespace.js";

/** The port xrdp looks for sesman on: ListenPort of /etc/xrdp/sesman.ini, else 3350. */
export function hostSesmanPort(path = "/etc/xrdp/sesman.ini"): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return 3350;
  }
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const s = /^\[([^\]]*)\]$/.exec(line);
    if (s) {
      section = (s[1] ?? "").toLowerCase();
      continue;
    }
    const kv = /^ListenPort\s*=\s*(\d{1,5})\s*$/i.exec(line);
    if (section === "globals" && kv) {
      const port = Number(kv[1]);
      // xrdp itself takes only 1..64999 (xrdp_mm_get_sesman_port).
      if (port > 0 && port < 65_000) return port;
    }
  }
  return 3350;
}

/**
 * A random address of 127.0.0.0/8 outside 127.0.0.0/16 (127.0.0.1 is everyone's, and Debian gives
 * 127.0.1.1 to the host name).
 */
export function randomSesmanAddress(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

export interface InstanceSesmanSpec {
  readonly bin: string;
  /** The instance's directory: sesman.ini, sesman.log and sesman.out go there. */
  readonly dir: string;
  readonly address: string;
  readonly port: number;
  readonly block: DisplayBlock;
  readonly settings: SesmanSettings;
  /** @default "0.9" */
  readonly xrdpVersion?: "0.9" | "0.10";
  /** xrdp 0.10: the instance's socket directory, bound over the compiled-in one. */
  readonly sockdir?: string;
  readonly namespace?: SockdirNamespace;
}

/** The path of an instance's sesman.ini: its presence in a command line marks the process. */
export function sesmanIniPath(dir: string): string {
  return join(dir, "sesman.ini");
}

/** Renders the instance's sesman.ini (before anything is spawned; throws IniValueError). */
export function renderInstanceSesmanIni(spec: InstanceSesmanSpec): string {
  return renderSesmanIni({
    // Sessions per instance are bounded by its block: sesman scans offset..offset+MaxSessions.
    settings: { ...spec.settings, maxSessions: spec.block.count - 1 },
    logFile: join(spec.dir, "sesman.log"),
    listenAddress: spec.address,
    listenPort: spec.port,
    x11DisplayOffset: spec.block.first,
    xrdpVersion: spec.xrdpVersion,
  });
}

/** Writes the config and starts sesman; resolves once it accepts connections (or throws). */
export async function startInstanceSesman(
  spec: InstanceSesmanSpec,
  timeoutMs = 5_000,
): Promise<ProcessHandle> {
  const ini = sesmanIniPath(spec.dir);
  await writeFileAtomic(ini, renderInstanceSesmanIni(spec), 0o600);
  const args = ["--nodaemon", "--config", ini];
  const cmd =
    spec.sockdir !== undefined
      ? inSockdirNamespace(spec.namespace ?? {}, spec.sockdir, spec.bin, args)
      : { bin: spec.bin, args };
  const handle = await spawnProcess(cmd.bin, cmd.args, {
    outputFile: join(spec.dir, "sesman.out"),
  });
  const listening = () =>
    spec.sockdir !== undefined
      ? answersAt({ path: join(spec.sockdir, "sesman.socket") })
      : answersAt({ host: spec.address, port: spec.port });
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void handle.exited.then(() => {
    gone = true;
  });
  while (!gone && Date.now() < deadline) {
    if (await listening()) return handle;
    await new Promise((r) => setTimeout(r, 20));
  }
  handle.killGroup("SIGKILL");
  throw new Error(
    `xrdp-sesman did not listen${spec.sockdir ? ` in ${spec.sockdir}` : ` on ${spec.address}:${spec.port}`}${gone ? " (it exited)" : ""}: ${handle.output.slice(-3).join(" | ")}`,
  );
}

function answersAt(to: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(to);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
