/**
 * The xrdp and xrdp-sesman processes of this service, from any life of it: group leaders whose
 * `--config` lies in an instance folder of the state directory. The folder names the instance, so
 * a process spawned just before a crash, whose pid never reached the record, is still known as
 * that instance's: the next life adopts it instead of killing it or starting a second one.
 */
import { findProcesses, type ProcessInfo } from "@lucid-rdp/proc";

/** One of our processes, with the instance its config belongs to. */
export interface OurProcess {
  readonly pid: number;
  readonly startTicks: number;
  readonly kind: "xrdp" | "sesman";
  /** The instance folder's name: the instance id. */
  readonly instanceId: string;
}

/** Live (not zombie) group leaders running xrdp or xrdp-sesman with a config under `stateDir`. */
export function findOurProcesses(stateDir: string): OurProcess[] {
  const marker = `${stateDir}/`;
  const out: OurProcess[] = [];
  for (const p of findProcesses((x) => isOurs(x, marker))) {
    const [exe, ...args] = p.cmdline;
    const config = args[args.indexOf("--config") + 1] ?? "";
    out.push({
      pid: p.pid,
      startTicks: p.stat.startTicks,
      kind: /xrdp-sesman$/.test(exe ?? "") ? "sesman" : "xrdp",
      instanceId: config.slice(marker.length).split("/")[0] ?? "",
    });
  }
  return out;
}

function isOurs(p: ProcessInfo, marker: string): boolean {
  // A group leader per instance: xrdp's per-connection children share its group.
  if (p.pid !== p.stat.pgrp || p.stat.state === "Z") return false;
  const [exe, ...args] = p.cmdline;
  if (exe === undefined || !/(^|\/)xrdp(-sesman)?$/.test(exe)) return false;
  const i = args.indexOf("--config");
  return i >= 0 && (args[i + 1] ?? "").startsWith(marker);
}

/** Sends SIGKILL to a process group; gone already is fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}
