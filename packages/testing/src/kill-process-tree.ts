/** Cleans up after a test that failed midway through a launcher that starts process groups. */
import { findProcesses } from "@lucid-rdp/proc";

/**
 * SIGKILLs the process group of `pid` and the group of every process descended from it (a
 * launcher whose services run in groups of their own leaves them behind when only it is killed).
 * The test runner's own group is never touched.
 */
export function killProcessTree(pid: number): void {
  const all = findProcesses(() => true);
  const own = all.find((p) => p.pid === process.pid)?.stat.pgrp;
  const groups = new Set<number>([pid]);
  let parents = [pid];
  while (parents.length > 0) {
    const children = all.filter((p) => parents.includes(p.stat.ppid));
    for (const c of children) groups.add(c.stat.pgrp);
    parents = children.map((c) => c.pid);
  }
  for (const group of groups) {
    if (group <= 1 || group === own) continue;
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // gone
    }
  }
}
