/** Signals for services run by spawnService (tsx, then node). */

import { listChildren } from "@lucid-rdp/proc";
import type { ChildServer } from "./spawn-service.js";

/**
 * SIGTERM to the service's node process itself. Not through tsx: tsx waits 30 ms for its child to
 * acknowledge a relayed signal and otherwise kills it (exit 143), which a service busy with a
 * burst, or on a loaded machine, may not do in time. An image runs node directly.
 */
export function sigterm(svc: ChildServer): void {
  const [node] = listChildren(svc.child.pid as number);
  try {
    process.kill(node?.pid ?? (svc.child.pid as number), "SIGTERM");
  } catch {
    // gone already
  }
}
