/**
 * Which badge colour (a CSS class of style.css: ok, busy, idle, warn, bad, gone) each state gets.
 * Unknown states get "" (the plain badge).
 */
import {
  AlertState,
  type Node as ClusterNode,
  NodeHealth,
  ServerState,
  SessionState,
} from "@lucid-rdp/gen";

const sessionTones: Record<number, string> = {
  [SessionState.PENDING]: "busy",
  [SessionState.PROVISIONING]: "busy",
  [SessionState.READY]: "ok",
  [SessionState.ACTIVE]: "ok",
  [SessionState.DISCONNECTED]: "idle",
  [SessionState.TERMINATING]: "warn",
  [SessionState.TERMINATED]: "gone",
  [SessionState.FAILED]: "bad",
};

const serverTones: Record<number, string> = {
  [ServerState.PROVISIONING]: "busy",
  [ServerState.READY]: "ok",
  [ServerState.DRAINING]: "warn",
  [ServerState.STOPPING]: "warn",
  [ServerState.STOPPED]: "gone",
  [ServerState.FAILED]: "bad",
};

const alertTones: Record<number, string> = {
  [AlertState.PENDING]: "warn",
  [AlertState.FIRING]: "bad",
  [AlertState.RESOLVED]: "ok",
  [AlertState.INACTIVE]: "gone",
};

/** The badge tone of a session state. */
export const sessionTone = (state: SessionState): string => sessionTones[state] ?? "";

/** The badge tone of a server state. */
export const serverTone = (state: ServerState): string => serverTones[state] ?? "";

/** The badge tone of an alert state. */
export const alertTone = (state: AlertState): string => alertTones[state] ?? "";

/** A node's badge: DRAINING (warn) while it drains, else its health, ok only when HEALTHY. */
export function nodeBadge(n: ClusterNode): { text: string; tone: string } {
  const healthy = n.health === NodeHealth.HEALTHY;
  return {
    text: n.draining ? "DRAINING" : (NodeHealth[n.health] ?? "?"),
    tone: n.draining ? "warn" : healthy ? "ok" : "bad",
  };
}
