/** The states of an xrdp instance and why it entered them. */

export type InstanceState = "STARTING" | "READY" | "RESTARTING" | "STOPPING" | "STOPPED" | "FAILED";

export const liveInstanceStates: readonly InstanceState[] = [
  "STARTING",
  "READY",
  "RESTARTING",
  "STOPPING",
];

/** Why an instance entered RESTARTING, STOPPING, STOPPED or FAILED. */
export type InstanceStateReason =
  | "STOP_REQUESTED"
  | "PROCESS_EXITED"
  | "CRASH_LOOP"
  | "READINESS_TIMEOUT"
  | "PROCESS_MISSING"
  | "SERVICE_SHUTDOWN";
