/** An xrdp instance of this node as the monitor needs it: whose it is and which processes. */

/** The lifecycle state of an instance (InstanceState in the proto, without UNSPECIFIED). */
export type InstanceState = "STARTING" | "READY" | "RESTARTING" | "STOPPING" | "STOPPED" | "FAILED";

/** One xrdp instance, as this node's xrdp-integration reports it. */
export interface XrdpInstance {
  readonly id: string;
  /** The server it serves; empty when none. */
  readonly serverId: string;
  /** Undefined for a state this monitor does not know (a newer xrdp-integration's). */
  readonly state: InstanceState | undefined;
  /** xrdp's pid; 0 when it has none. */
  readonly pid: number;
  /** Its sesman's pid, which holds the desktops; 0 when it has none. */
  readonly sesmanPid: number;
}

/** The states whose processes are sampled. */
export const liveInstanceStates: ReadonlySet<InstanceState> = new Set([
  "STARTING",
  "READY",
  "RESTARTING",
]);
