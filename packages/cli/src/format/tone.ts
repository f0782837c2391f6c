/** Colours of states in tables (picocolors: off when NO_COLOR is set, with --no-color, or not a TTY). */
import pc from "picocolors";

const good = new Set(["READY", "ACTIVE", "HEALTHY", "INACTIVE", "RESOLVED", "INFO"]);
const bad = new Set(["FAILED", "UNHEALTHY", "FIRING", "CRITICAL"]);
const busy = new Set(["PENDING", "PROVISIONING", "DISCONNECTED", "DRAINING", "WARNING"]);
const done = new Set(["TERMINATING", "TERMINATED", "STOPPING", "STOPPED"]);

/** `name` coloured by what it means: green good, red bad, yellow in progress, dim ended. */
export function tone(name: string): string {
  if (good.has(name)) return pc.green(name);
  if (bad.has(name)) return pc.red(name);
  if (busy.has(name)) return pc.yellow(name);
  if (done.has(name)) return pc.dim(name);
  return name;
}
