/**
 * Runs a bundle the way its distroless image runs it, without Docker: in a root directory that
 * holds only what the image holds (node at /nodejs/bin/node and the shared libraries ldd names, the
 * bundle at /app/main.mjs, the health check at /app/healthcheck.mjs, /etc/passwd with nonroot),
 * bind-mounted read-only onto itself, entered with chroot as uid/gid 65532, in new mount and pid
 * namespaces with their own /proc, as a container has. No shell, no node_modules, nothing writable.
 *
 * Needs root (mount and chroot) and util-linux's unshare and mount. The mount namespace is the
 * process's own, so the read-only bind and the /proc vanish with it: nothing to clean up on the host.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

export const nonroot = 65532;

export interface ChrootTools {
  readonly unshare: string;
  readonly mount: string;
  readonly ldd: string;
}

export interface RootFiles {
  /** The service's bundle, copied to /app/main.mjs. */
  readonly bundle: string;
  /** The health check bundle, copied to /app/healthcheck.mjs. */
  readonly healthcheck: string;
  /** The node binary, copied to /nodejs/bin/node (distroless's path). @default process.execPath */
  readonly node?: string;
}

/** The shared libraries and the loader `ldd` lists for a binary, as absolute paths. */
export function sharedLibraries(ldd: string, binary: string): string[] {
  const r = spawnSync(ldd, [binary], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ldd ${binary} failed: ${r.stderr}`);
  const libs: string[] = [];
  for (const line of r.stdout.split("\n")) {
    // "libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m) libs.push(m[1]!);
  }
  if (!libs.some((l) => /ld-linux|ld-musl/.test(l))) {
    throw new Error(`ldd named no dynamic loader for ${binary}: ${r.stdout}`);
  }
  return libs;
}

function put(root: string, path: string, mode: number, from?: string, text?: string): void {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
  if (from !== undefined) copyFileSync(from, target);
  else writeFileSync(target, text ?? "");
  chmodSync(target, mode);
}

/**
 * Builds a root like the distroless nodejs image's, owned by root and readable by all.
 * Resolves with its path; `extra(root)` may add files (e.g. the console) before it is sealed.
 */
export function buildDistrolessRoot(
  tools: ChrootTools,
  files: RootFiles,
  extra?: (root: string) => void,
): string {
  const root = mkdtempSync(join(tmpdir(), "distroless-root-"));
  // mkdtemp makes it 0700, which uid 65532 could not even enter.
  chmodSync(root, 0o755);
  const node = files.node ?? process.execPath;
  put(root, "nodejs/bin/node", 0o755, node);
  for (const lib of sharedLibraries(tools.ldd, node)) put(root, lib, 0o755, lib);
  put(root, "app/main.mjs", 0o644, files.bundle);
  put(root, "app/healthcheck.mjs", 0o644, files.healthcheck);
  // distroless's own users and groups.
  put(
    root,
    "etc/passwd",
    0o644,
    undefined,
    [
      "root:x:0:0:root:/root:/sbin/nologin",
      "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin",
      "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin",
      "",
    ].join("\n"),
  );
  put(root, "etc/group", 0o644, undefined, "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n");
  for (const dir of ["proc", "tmp", "home/nonroot"]) {
    mkdirSync(join(root, dir), { recursive: true, mode: 0o755 });
  }
  extra?.(root);
  return root;
}

/**
 * Binds `root` read-only onto itself, then chroots into it as 65532 with a fresh /proc and execs
 * argv. The script is a constant; the root, the tools and argv reach it as positional parameters,
 * never as shell text. It runs on the host, before the chroot: the root itself has no shell.
 */
const enter = [
  "root=$1; mount=$2; unshare=$3; shift 3",
  '"$mount" --bind "$root" "$root"',
  '"$mount" -o remount,bind,ro "$root"',
  `exec "$unshare" --root="$root" --mount-proc=/proc --setuid ${nonroot} --setgid ${nonroot} -- "$@"`,
].join(" && ");

/**
 * Starts argv inside the root. `--pid --fork`: the program is PID 1 of its own pid namespace, as
 * in a container; `--kill-child`: it dies with its unshare if the test dies.
 */
export function spawnInRoot(
  tools: ChrootTools,
  root: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): ChildProcess {
  return spawn(
    tools.unshare,
    [
      "--mount",
      "--pid",
      "--fork",
      "--kill-child",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      enter,
      "sh",
      root,
      tools.mount,
      tools.unshare,
      ...argv,
    ],
    { env: { ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
}

/** Runs argv in the root to its end. */
export function runInRoot(
  tools: ChrootTools,
  root: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>> = {},
  timeoutMs = 15_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnInRoot(tools, root, argv, env);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface RootedService {
  /** The outer unshare, parent of the service. */
  readonly child: ChildProcess;
  /** The service's pid as the host sees it. */
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  readonly stdout: string[];
  readonly stderr: () => string;
  /** Resolves with the service's exit code (unshare passes it on). */
  readonly exited: Promise<number | null>;
}

/** The pid of `parent`'s only child, from /proc. */
function childOf(parent: number): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Starts the bundle in the root and resolves once it logs "listening". */
export function startInRoot(
  tools: ChrootTools,
  root: string,
  env: Readonly<Record<string, string>>,
  timeoutMs = 30_000,
): Promise<RootedService> {
  const child = spawnInRoot(tools, root, ["/nodejs/bin/node", "/app/main.mjs"], env);
  const stdout: string[] = [];
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no "listening" within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      stdout.push(line);
      let rec: { msg?: string; url?: string };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        return;
      }
      if (rec.msg !== "listening" || rec.url === undefined) return;
      clearTimeout(timer);
      const pid = childOf(child.pid as number);
      if (pid === undefined) {
        reject(new Error("the service's process was not found under its unshare"));
        return;
      }
      resolve({
        child,
        pid,
        url: rec.url,
        port: Number(new URL(rec.url).port),
        stdout,
        stderr: () => stderr,
        exited,
      });
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening: ${stderr}`));
    }, reject);
  });
}

/** `Uid:` and `Gid:` of a process (real, effective, saved, filesystem). */
export function idsOf(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) =>
    (new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(status)?.[1] ?? "")
      .split(/\s+/)
      .filter((x) => x !== "")
      .map(Number);
  return { uid: field("Uid"), gid: field("Gid"), groups: field("Groups") };
}
