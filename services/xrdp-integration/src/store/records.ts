/** The records xrdp-integration keeps: its instances, as plain TypeScript. */
import type { Outboxed } from "@lucid-rdp/storage";
import type { InstanceState, InstanceStateReason } from "../domain/instance-states.js";

/** One xrdp process on this host (issue 4). */
export interface InstanceRecord extends Outboxed {
  /** The StartInstance request id (AIP-155). */
  readonly requestId?: string;
  readonly serverId: string;
  readonly port: number;
  readonly state: InstanceState;
  readonly stateReason?: InstanceStateReason;
  readonly stateMessage?: string;
  /** Kept for records written before stateMessage existed. */
  readonly failureReason?: string;
  readonly pid?: number;
  /** Process start time from /proc/<pid>/stat (clock ticks), so a recycled pid is not mistaken. */
  readonly pidStartTicks?: number;
  readonly processStartTime?: Date;
  readonly restartCount: number;
  readonly nextRestartTime?: Date;
  readonly lastExit?: { readonly exitCode?: number; readonly signal?: string; readonly time: Date };
  /** The settings StartInstance was given (plain, as the domain types them). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** The settings in force after defaults and the security floor. */
  readonly effectiveSettings?: Readonly<Record<string, unknown>>;
  readonly tlsCertSha256?: string;
  /** The instance's directory (config, TLS material, logs). */
  readonly configDir?: string;
  readonly readyTime?: Date;
  readonly stopTime?: Date;
  /** The one local account whose desktop logins the instance admits. */
  readonly owner?: string;
  /** The loopback address of the instance's own xrdp-sesman (XRDP_SESMAN=managed). */
  readonly sesmanAddress?: string;
  /** The pid and start time of that sesman, so a restarted service adopts it. */
  readonly sesmanPid?: number;
  readonly sesmanStartTicks?: number;
  /** The X displays the instance's desktops may use: `displayFirst .. displayFirst + displayCount - 1`. */
  readonly displayFirst?: number;
  readonly displayCount?: number;
  /** True while the instance waits, READY and unassigned, in the warm pool (no owner, no server). */
  readonly warm?: boolean;
  /** True for an instance started by the warm pool, handed out or not. */
  readonly pooled?: boolean;
  /** The port StartInstance asked for, when the node chose `port` itself (0) or handed out a warm one. */
  readonly requestedPort?: number;
}
