/**
 * A real RDP client for tests: xfreerdp (Debian's freerdp2-x11) under an Xvfb of its own, logging
 * in with a password over TLS, and the test accounts .ci/test-accounts.sh creates. Missing tools
 * or accounts fail under CI=true (findTool) and skip loudly otherwise.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { findProcesses } from "@lucid-rdp/proc";
import { xServerDisplay } from "@lucid-rdp/xrdp-integration";
import { findTool } from "./tools.js";

/** The accounts of .ci/test-accounts.sh: each `~/.xsession` writes `id -u` to `~/desktop-proof.$DISPLAY`. */
export const testAccounts = {
  alice: { name: "lucidalice", password: "Pw-lucidalice-1" },
  bob: { name: "lucidbob", password: "Pw-lucidbob-1" },
} as const;

export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
}

/** The account from /etc/passwd, or undefined (a thrown error under CI=true). */
export function findAccount(name: string): Account | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined && f[5] !== undefined) {
      return { name, uid: Number(f[2]), home: f[5] };
    }
  }
  if (process.env.CI === "true") {
    throw new Error(`test account ${name} missing: run bash .ci/test-accounts.sh (as root)`);
  }
  return undefined;
}

/**
 * The RDP client's tools, looked up on first use (not on import, so that importing the testing
 * package finds no tool it does not need): undefined when missing, a thrown error under CI=true.
 */
export const rdpTools = {
  get xfreerdp(): string | undefined {
    return lookup("xfreerdp", "apt-get install -y freerdp2-x11");
  },
  get xvfb(): string | undefined {
    return lookup("Xvfb", "apt-get install -y xvfb");
  },
  get sesman(): string | undefined {
    return lookup("xrdp-sesman", "apt-get install -y xrdp");
  },
};

const found = new Map<string, string | undefined>();

function lookup(name: string, installHint: string): string | undefined {
  if (!found.has(name)) found.set(name, findTool(name, installHint));
  return found.get(name);
}

/** Starts `Xvfb :<display>` for the client; resolves once its socket exists. */
export async function startXvfb(display: number): Promise<() => void> {
  const bin = rdpTools.xvfb;
  if (bin === undefined) throw new Error("Xvfb missing");
  // An Xvfb left on this display by an earlier run that died is ended; one killed with SIGKILL
  // leaves its lock and socket: the new one would refuse the display, and a stale socket file
  // would look like a running server.
  for (const p of findProcesses((p) => xServerDisplay(p) === display)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  const gone = Date.now() + 5_000;
  while (findProcesses((p) => xServerDisplay(p) === display).length > 0 && Date.now() < gone) {
    await new Promise((r) => setTimeout(r, 50));
  }
  rmSync(`/tmp/.X${display}-lock`, { force: true });
  rmSync(`/tmp/.X11-unix/X${display}`, { force: true });
  const p = spawn(bin, [`:${display}`, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], {
    stdio: "ignore",
    detached: true,
  });
  const deadline = Date.now() + 10_000;
  while (
    !(existsSync(`/tmp/.X11-unix/X${display}`) && (await accepts(`/tmp/.X11-unix/X${display}`)))
  ) {
    if (Date.now() > deadline) throw new Error(`Xvfb :${display} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return () => {
    try {
      process.kill(-(p.pid as number), "SIGKILL");
    } catch {
      // gone
    }
  };
}

function accepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ path });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export interface RdpClient {
  readonly process: ChildProcess;
  /** xfreerdp's output so far. */
  output(): string;
  /** Resolves with the exit code once the client is gone. */
  readonly exited: Promise<number | null>;
  close(): void;
}

/**
 * Connects xfreerdp to 127.0.0.1:port as `user` with `password` (TLS, certificate ignored); with
 * `routingToken`, through a front door: the token goes in the X.224 Connection Request
 * (`/load-balance-info:`, an .rdp file's `loadbalanceinfo:s:`).
 */
export function rdpConnect(opts: {
  port: number;
  user: string;
  password: string;
  xDisplay: number;
  routingToken?: string;
}): RdpClient {
  const bin = rdpTools.xfreerdp;
  if (bin === undefined) throw new Error("xfreerdp missing");
  let out = "";
  const p = spawn(
    bin,
    [
      `/v:127.0.0.1:${opts.port}`,
      `/u:${opts.user}`,
      `/p:${opts.password}`,
      "/cert:ignore",
      "/sec:tls",
      "/size:1024x768",
      "-clipboard",
      "/log-level:WARN",
      ...(opts.routingToken !== undefined ? [`/load-balance-info:${opts.routingToken}`] : []),
    ],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        DISPLAY: `:${opts.xDisplay}`,
        HOME: "/tmp",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  p.stdout?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  p.stderr?.on("data", (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
  return {
    process: p,
    output: () => out,
    exited,
    close: () => {
      try {
        process.kill(-(p.pid as number), "SIGKILL");
      } catch {
        // gone
      }
    },
  };
}

/** The desktop proofs (`~/desktop-proof.:N[.S]` -> uid) an account's desktops wrote. */
export function desktopProofs(account: Account): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirOrEmpty(account.home)) {
    const m = /^desktop-proof\.:(\d+)(\.\d+)?$/.exec(name);
    if (!m) continue;
    // The session creates the file, then writes the uid: an empty file is not a proof yet.
    const text = readFileSync(`${account.home}/${name}`, "utf8").trim();
    if (!/^\d+$/.test(text)) continue;
    out.set(Number(m[1]), Number(text));
  }
  return out;
}

export function clearDesktopProofs(account: Account): void {
  for (const name of readdirOrEmpty(account.home)) {
    if (name.startsWith("desktop-proof.")) rmSync(`${account.home}/${name}`, { force: true });
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
