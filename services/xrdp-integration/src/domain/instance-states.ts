/** The states of an xrdp instance and why it entered them. */

export type InstanceState = "STARTING" | "READY" | "RESTARTING" | "STOPPING" | "STOPPED" | "FAILED";

export const liveInstanceStates: readonly InstanceState[] = [
  "STARTING",
  "READY",
  "RESTARTING",
  "STOPPING",
];

const busyStates: ReadonlySet<InstanceState> = new Set(liveInstanceStates);

/** True while an instance in `state` counts against capacity. */
export function isLiveState(state: InstanceState): boolean {
  return busyStates.has(state);
}

/** Why an instance entered RESTARTING, STOPPING, STOPPED or FAILED. */
export type InstanceStateReason =
  | "STOP_REQUESTED"
  | "PROCESS_EXITED"
  | "CRASH_LOOP"
  | "READINESS_TIMEOUT"
  | "PROCESS_MISSING"
  | "SERVICE_SHUTDOWN";
