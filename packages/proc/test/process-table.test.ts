import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  findProcesses,
  isSameProcess,
  listChildren,
  listDescendants,
  processStartTime,
  readCmdline,
  readEnviron,
  readProcStat,
} from "../src/index.js";

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
  }
});

/** Starts `sleep` with a unique duration that serves as a marker in its command line. */
function spawnSleep(): { child: ChildProcess; pid: number; marker: string } {
  const marker = `30.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const child = spawn("sleep", [marker], { stdio: "ignore" });
  children.push(child);
  if (child.pid === undefined) throw new Error("sleep did not start");
  return { child, pid: child.pid, marker };
}

describe("readProcStat()", () => {
  it("reads this process: its pid, its parent, a node-like comm and its start time", () => {
    const stat = readProcStat(process.pid);
    expect(stat).toBeDefined();
    expect(stat?.pid).toBe(process.pid);
    expect(stat?.ppid).toBe(process.ppid);
    expect(stat?.state).toBe("R");
    // libuv also sets comm when a process sets process.title (vitest does), truncated to 15 bytes.
    expect(["node", process.title.slice(0, 15)]).toContain(stat?.comm);
    const started = processStartTime(stat?.startTicks ?? 0).getTime();
    const expected = Date.now() - process.uptime() * 1000;
    expect(Math.abs(started - expected)).toBeLessThan(2000);
  });

  it("returns undefined for pids that cannot exist", () => {
    expect(readProcStat(0)).toBeUndefined();
    expect(readProcStat(-1)).toBeUndefined();
    expect(readProcStat(1.5)).toBeUndefined();
    expect(readProcStat(2 ** 22 + 1)).toBeUndefined(); // above pid_max's ceiling
  });
});

describe("readCmdline()", () => {
  it("splits /proc/<pid>/cmdline at NULs", async () => {
    const { pid, marker } = spawnSleep();
    // On a loaded machine the command line has been seen empty right after spawn() returned (a
    // clean-clone CI run): wait for sleep's own, then check how it is split.
    await vi.waitFor(() => expect(readCmdline(pid)?.length).toBeGreaterThan(0), {
      timeout: 5_000,
      interval: 20,
    });
    expect(readCmdline(pid)?.slice(-1)).toEqual([marker]);
    expect(readCmdline(2 ** 22 + 1)).toBeUndefined();
  });
});

describe("readEnviron()", () => {
  it("reads the environment a child started with", async () => {
    const child = spawn("sleep", ["30"], {
      stdio: "ignore",
      env: { PATH: process.env.PATH, DISPLAY: ":77.0" },
    });
    children.push(child);
    await once(child, "spawn");
    // Right after spawn() the child may still be node's fork, with node's environment: wait for
    // sleep's own.
    await vi.waitFor(() => expect(readEnviron(child.pid ?? 0)?.get("DISPLAY")).toBe(":77.0"), {
      timeout: 5_000,
      interval: 20,
    });
    expect(readEnviron(2 ** 22 + 1)).toBeUndefined();
  });
});

describe("isSameProcess()", () => {
  it("is true for the recorded start ticks only, and false once the process is gone", async () => {
    const { child, pid } = spawnSleep();
    const startTicks = readProcStat(pid)?.startTicks ?? -1;
    expect(isSameProcess(pid, startTicks)).toBe(true);
    expect(isSameProcess(pid, startTicks + 1)).toBe(false);
    child.kill("SIGKILL");
    await once(child, "exit"); // node has reaped it: the pid is free
    expect(isSameProcess(pid, startTicks)).toBe(false);
  });
});

describe("findProcesses()", () => {
  it("finds a child by a marker in its command line", () => {
    const { pid, marker } = spawnSleep();
    const found = findProcesses((p) => p.cmdline.includes(marker));
    expect(found.map((p) => p.pid)).toEqual([pid]);
    expect(found[0]?.stat.ppid).toBe(process.pid);
    expect(found[0]?.stat.comm).toBe("sleep");
  });
});

describe("listChildren() / listDescendants()", () => {
  it("lists a child by ppid, and a grandchild among the descendants", async () => {
    const { pid } = spawnSleep();
    expect(listChildren(process.pid).map((s) => s.pid)).toContain(pid);
    // sh runs sleep in the background as its child, then waits.
    const marker = `31.${process.pid}`;
    const sh = spawn("sh", ["-c", `sleep ${marker} & echo $!; wait`], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    children.push(sh);
    const [line] = (await once(sh.stdout ?? sh, "data")) as [Buffer];
    const grandchild = Number(line.toString().trim());
    const descendants = listDescendants(process.pid).map((s) => s.pid);
    expect(descendants).toEqual(expect.arrayContaining([pid, sh.pid, grandchild]));
    expect(listChildren(process.pid).map((s) => s.pid)).not.toContain(grandchild);
    process.kill(grandchild, "SIGKILL");
  });
});
