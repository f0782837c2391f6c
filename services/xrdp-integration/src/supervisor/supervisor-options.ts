/** The supervisor's options and the shapes of what it is asked and answers. */
import type { KeyObject } from "node:crypto";
import type { Clock, Logger } from "@lucid-rdp/runtime";
import type { BusWakeups, EventBus } from "@lucid-rdp/storage";
import type { DisplayRange } from "../domain/display-blocks.js";
import type { SecurityFloor, ServiceDefaults, XrdpSettings } from "../domain/xrdp-settings.js";
import type { DisplayFileRoots } from "../host/x-displays.js";
import type { InstanceStore } from "../store/stores.js";
import type { SockdirNamespace } from "./sockdir-namespace.js";

/** How long the supervisor waits for, stops, restarts and checks an instance. */
export interface SupervisorTimings {
  readonly readinessTimeoutMs: number;
  readonly stopGraceMs: number;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
  readonly crashLoopExits: number;
  readonly crashLoopWindowMs: number;
  readonly healthIntervalMs: number;
}

/** Where instances' desktops come from: their sesman, X displays and socket namespace. */
export interface DesktopHostOptions {
  /**
   * xrdp-sesman, run once per instance (XRDP_SESMAN=managed); undefined uses the host's own sesman
   * at 127.0.0.1 (XRDP_SESMAN=off), whose desktops the service does not own.
   */
  readonly sesmanBin?: string;
  /** The port xrdp finds sesman on (ListenPort of /etc/xrdp/sesman.ini). @default 3350 */
  readonly sesmanPort?: number;
  /** The X displays instances' desktops may use. @default 10 to 299 */
  readonly displayRange?: DisplayRange;
  /** Where X and xrdp keep per-display files. @default /tmp and /run/xrdp */
  readonly displayFiles?: DisplayFileRoots;
  /**
   * The installed xrdp's version (`xrdp --version`). From 0.10 on, each instance's xrdp and sesman
   * run in a mount namespace with a socket directory of the instance's own (sockdir-namespace.ts).
   * @default 0.9
   */
  readonly xrdpVersion?: string;
  /** How that namespace is made (tests point at other binaries). */
  readonly namespace?: SockdirNamespace;
}

/** What an InstanceSupervisor is built from. */
export interface SupervisorOptions extends SupervisorTimings, DesktopHostOptions {
  readonly store: InstanceStore;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** Absolute path of xrdp, or undefined when it was not found (with the reason). */
  readonly xrdpBin: string | undefined;
  readonly xrdpMissingReason?: string;
  /** Instance directories live under it; it is also the marker of our processes. */
  readonly stateDir: string;
  /** The IPv4 address instances listen on. */
  readonly listenAddress: string;
  /**
   * Whether the node has an RDP front door (RDP_DOOR=on): StartInstance may then leave the port to
   * the node (0), which picks it from `portRange`, or hands out a warm instance. @default false
   */
  readonly door?: boolean;
  /** How many warm instances to keep (WARM_POOL_SIZE; needs `door`). @default 0 */
  readonly warmPoolSize?: number;
  /** NODE_PORT_RANGE: where the node picks ports itself. @default 3390-3489 */
  readonly portRange?: { readonly start: number; readonly end: number };
  readonly maxInstances: number;
  readonly defaults: ServiceDefaults;
  readonly floor: SecurityFloor;
  /** Certificate and key every instance uses, instead of generating its own. */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /**
   * Keys generated ahead of time (XRDP_TLS_KEY_POOL) for instances that get a certificate of
   * their own; each key taken is used by that instance only. Without one, or when it is empty, the
   * instance generates its key while it starts.
   */
  readonly keyPool?: { take(): KeyObject | undefined };
  /**
   * Wakes {@link InstanceSupervisor.waitSettled} on the instance events of `bus`.
   * @default wake-ups of its own on `bus`, started at the first wait and ended by close()
   */
  readonly wakeups?: BusWakeups;
  /** The wall time records are stamped with. @default systemClock */
  readonly clock?: Clock;
}

export interface StartRequest {
  readonly requestId: string;
  readonly serverId: string;
  /** The one local account whose desktop logins the instance admits. */
  readonly owner: string;
  readonly port: number;
  readonly settings: XrdpSettings;
}

/** What a reconcile did: instance ids, and the pids of the strays it killed. */
export interface ReconcileResult {
  readonly adopted: string[];
  /** Stored but never spawned, or waiting for a restart: started now. */
  readonly started: string[];
  /** Marked FAILED (PROCESS_MISSING). */
  readonly missing: string[];
  readonly strays: number[];
  /** Instance folders no record names, removed. */
  readonly folders: string[];
}
