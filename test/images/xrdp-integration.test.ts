/**
 * xrdp-integration's image is not distroless (Debian, xrdp, tini; see the Dockerfile), so its
 * bundle is not chrooted. It runs here as its image starts it: the ENTRYPOINT and CMD read from the
 * Dockerfile (tini, then setpriv bounding the capabilities, then node and the bundle), only the
 * binaries' paths mapped to this machine's, the bundle outside the repository (no node_modules to
 * fall back on). With real xrdp it must reach SERVING, start an instance that answers RDP under
 * those capabilities, and stop on SIGTERM through tini; with xrdp missing it must report NOT_SERVING.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { InstanceState, XrdpIntegrationService } from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { findTool, repoRoot } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHealthcheck, bundleService } from "../../scripts/bundle.js";
import { envOf, execForm, lastOf, readDockerfile, stageChain } from "./support/dockerfile.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === "true") {
  throw new Error(
    "test/images/xrdp-integration.test.ts needs root (as the image runs); CI runs as root",
  );
}
const xrdp = findTool("xrdp", "apt-get install -y xrdp");
const tini = findTool("tini", "apt-get install -y tini");
const setpriv = findTool("setpriv", "apt-get install -y util-linux");
const unshare = findTool("unshare", "apt-get install -y util-linux");

const { stages } = stageChain(readDockerfile(join(repoRoot, "Dockerfile")), "xrdp-integration");
const imageArgv = [
  ...execForm(lastOf(stages, "ENTRYPOINT"), "ENTRYPOINT"),
  ...execForm(lastOf(stages, "CMD"), "CMD"),
];
const imageEnv = envOf(stages);

/** Linux capability numbers (linux/capability.h) of the names setpriv takes. */
const capNumbers: Record<string, number> = {
  chown: 0,
  dac_override: 1,
  dac_read_search: 2,
  fowner: 3,
  fsetid: 4,
  kill: 5,
  setgid: 6,
  setuid: 7,
  setpcap: 8,
  net_bind_service: 10,
  net_raw: 13,
  sys_chroot: 18,
  sys_admin: 21,
  mknod: 27,
  audit_write: 29,
  setfcap: 31,
};

/** The bounding set the ENTRYPOINT asks setpriv for, as the hex mask /proc/<pid>/status shows. */
function expectedBoundingMask(): string {
  const arg = imageArgv.find((a) => a.startsWith("--bounding-set="));
  if (arg === undefined) throw new Error("the ENTRYPOINT sets no --bounding-set");
  let mask = 0n;
  for (const item of arg.slice("--bounding-set=".length).split(",")) {
    if (item === "-all") mask = 0n;
    else if (item.startsWith("+")) {
      const n = capNumbers[item.slice(1)];
      if (n === undefined) throw new Error(`unknown capability ${item}`);
      mask |= 1n << BigInt(n);
    } else throw new Error(`unexpected bounding-set item ${item}`);
  }
  return mask.toString(16).padStart(16, "0");
}

function statusField(pid: number, name: string): string {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === parent) {
        out.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const next = childrenOf(queue.shift()!);
    out.push(...next);
    queue = [...queue, ...next];
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
}

function start(argv: readonly string[], env: Record<string, string>): Promise<Running> {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`xrdp-integration did not listen: ${stderr}`));
    }, 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === "listening" && rec.url !== undefined) {
          clearTimeout(timer);
          const url = rec.url;
          resolve({ child, url, port: Number(new URL(url).port), exited, stderr: () => stderr });
        }
      } catch {
        // not a log line
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`xrdp-integration exited ${code}: ${stderr}`));
    }, reject);
  });
}

/** Runs the bundled HEALTHCHECK against a port; resolves with its exit code and output. */
function healthcheck(script: string, port: number): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [script], {
    env: { PORT: String(port), HOST: "0.0.0.0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve) =>
    child.once("close", (code) => resolve({ code, out: out.trim() })),
  );
}

describe("xrdp-integration image, run from its bundle as its ENTRYPOINT starts it", () => {
  if (
    !isRoot ||
    xrdp === undefined ||
    tini === undefined ||
    setpriv === undefined ||
    unshare === undefined
  ) {
    process.stderr.write(
      `\n!!! SKIPPED "xrdp-integration image": needs root, xrdp, tini, setpriv and unshare (apt-get install -y xrdp tini util-linux); root: ${isRoot}\n\n`,
    );
    it("needs root, xrdp, tini, setpriv and unshare", (ctx) => ctx.skip());
    return;
  }
  // The bundle lives outside the repository: no node_modules anywhere above it.
  const dir = mkdtempSync(join(tmpdir(), "xrdp-image-"));
  const stateDir = mkdtempSync(join(tmpdir(), "xrdp-image-state-"));
  let bundle = "";
  let check = "";
  let svc: Running | undefined;
  const env = {
    ...imageEnv,
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOST: "127.0.0.1",
    PORT: "0",
    XRDP_LISTEN_ADDRESS: "127.0.0.1",
    XRDP_STATE_DIR: stateDir,
    // One sesman per host on 3350: other tests own it; sesman is tested in services/xrdp-integration.
    XRDP_SESMAN: "off",
    XRDP_BIN: xrdp,
  };
  /**
   * The image's argv with its binaries' paths mapped to this machine's (anything else unmapped
   * fails), in a pid namespace of its own with its own /proc, so that tini is PID 1 as in the
   * container and reaps what is re-parented to it.
   */
  const argv = () => {
    const paths: Record<string, string> = {
      "/usr/bin/tini": tini,
      "/usr/bin/setpriv": setpriv,
      "/usr/local/bin/node": process.execPath,
      "/app/main.mjs": bundle,
    };
    const mapped = imageArgv.map((a) => {
      if (!a.startsWith("/")) return a;
      const local = paths[a];
      if (local === undefined)
        throw new Error(`the ENTRYPOINT names ${a}, which this test does not map`);
      return local;
    });
    return [unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--", ...mapped];
  };

  beforeAll(async () => {
    [bundle, check] = await Promise.all([
      bundleService("xrdp-integration", join(dir, "out")),
      bundleHealthcheck(join(dir, "out")),
    ]);
    svc = await start(argv(), env);
  });
  afterAll(async () => {
    if (svc !== undefined && svc.child.exitCode === null) {
      svc.child.kill("SIGKILL");
      await svc.exited;
    }
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("runs node under tini (PID 1) with the bounding set the ENTRYPOINT names, and reaches SERVING", async () => {
    const s = svc!;
    const init = childrenOf(s.child.pid as number);
    expect(init).toHaveLength(1);
    expect(readFileSync(`/proc/${init[0]}/comm`, "utf8").trim()).toBe("tini");
    expect(statusField(init[0]!, "NSpid").split(/\s+/).at(-1)).toBe("1");
    const children = childrenOf(init[0]!);
    expect(children).toHaveLength(1);
    const node = children[0]!;
    expect(readFileSync(`/proc/${node}/comm`, "utf8").trim()).toMatch(/^node/);
    const mask = expectedBoundingMask();
    // chown, dac_override, fowner, kill, setgid, setuid, sys_admin, audit_write.
    expect(mask).toBe("00000000202000eb");
    expect(statusField(node, "CapBnd")).toBe(mask);
    expect(statusField(node, "CapEff")).toBe(mask);
    expect(statusField(node, "CapInh")).toBe("0000000000000000");
    const h = await healthcheck(check, s.port);
    expect(h).toEqual({ code: 0, out: "healthcheck: SERVING" });
  });

  it("starts an xrdp instance that answers RDP under those capabilities, and stops it", async () => {
    const c = createNodeClient(XrdpIntegrationService, { baseUrl: svc!.url });
    const info = await c.getHostInfo({});
    expect(info.hostInfo?.xrdpVersion).toMatch(/^[0-9]/);
    expect(info.hostInfo?.serving).toBe(true);
    const { instance } = await c.startInstance({
      requestId: randomUUID(),
      owner: "lucidtest",
      serverId: randomUUID(),
      port: await freePort(),
      waitTimeout: { seconds: 20n },
    });
    expect(instance?.state).toBe(InstanceState.READY);
    // xrdp inherits the bound: a process of the image never holds more than the ENTRYPOINT allows.
    // The instance's pid is the one its pid namespace sees; find it among tini's descendants.
    const init = childrenOf(svc!.child.pid as number)[0]!;
    const hostPid = descendantsOf(init).find(
      (p) => statusField(p, "NSpid").split(/\s+/).at(-1) === String(instance!.pid),
    );
    expect(hostPid).toBeDefined();
    expect(readFileSync(`/proc/${hostPid}/comm`, "utf8").trim()).toBe("xrdp");
    expect(statusField(hostPid!, "CapBnd")).toBe(expectedBoundingMask());
    const stopped = await c.stopInstance({ instanceId: instance!.id });
    expect(stopped.instance?.state).toBe(InstanceState.STOPPED);
  });

  it("stops on SIGTERM through tini with exit code 0", async () => {
    const s = svc!;
    // To tini, as `docker stop` does; tini passes it to node.
    process.kill(childrenOf(s.child.pid as number)[0]!, "SIGTERM");
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toBe("");
  });

  it("with xrdp missing, starts and reports NOT_SERVING to the HEALTHCHECK", async () => {
    const missing = await start(argv(), { ...env, XRDP_BIN: join(dir, "no-such-xrdp") });
    try {
      const h = await healthcheck(check, missing.port);
      expect(h).toEqual({ code: 1, out: "healthcheck: NOT_SERVING" });
    } finally {
      process.kill(childrenOf(missing.child.pid as number)[0]!, "SIGTERM");
      await missing.exited;
    }
  });
});
