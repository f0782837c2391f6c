/** What the supervisor keeps in memory per instance, beside the stored record, and for all. */
import type { InstanceRecord } from "../store/records.js";
import type { InstanceDesktops } from "./instance-desktops.js";
import type { ProcessHandle } from "./process-handle.js";

/** One instance supervised by this life of the service. */
export interface SupervisedInstance {
  handle?: ProcessHandle;
  /** The instance's own xrdp-sesman, when the service runs one per instance. */
  sesman?: ProcessHandle;
  /** When its xrdp exited (ms), within the crash-loop window. */
  exits: number[];
  restartTimer?: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
  probeFailures: number;
  stopping: boolean;
}

/** An instance just taken under supervision: no process yet. */
export function newSupervisedInstance(): SupervisedInstance {
  return { exits: [], probeFailures: 0, stopping: false };
}

/** The state the supervisor's parts share. */
export interface SupervisorState {
  /** The instances this life supervises, by id. */
  readonly live: Map<string, SupervisedInstance>;
  /** StartInstance calls under way, by instance id: a concurrent duplicate joins the first. */
  readonly starting: Map<string, Promise<InstanceRecord>>;
  /** Set by close(): nothing new starts. */
  closed: boolean;
  /** Set once the service let go of its instances: record writes are no longer retried. */
  letGo: boolean;
  /** The removal of orphan folders under way: a start creating one of them waits for it. */
  folderSweep: Promise<unknown>;
}

/** The state of a supervisor that supervises nothing yet. */
export function newSupervisorState(): SupervisorState {
  return {
    live: new Map(),
    starting: new Map(),
    closed: false,
    letGo: false,
    folderSweep: Promise.resolve(),
  };
}

/** Ends an instance's sesman and desktops; the live sesman handle is dropped. */
export async function endInstanceDesktops(
  desktops: InstanceDesktops,
  record: InstanceRecord,
  live: SupervisedInstance | undefined,
  graceMs: number,
): Promise<void> {
  const sesman = live?.sesman;
  if (live) live.sesman = undefined;
  await desktops.endInstance(record, sesman, graceMs);
}
