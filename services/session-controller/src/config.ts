/** session-controller's settings, from env, validated once: a bad value exits 2 naming it. */
import { fileURLToPath } from "node:url";
import { ConfigError, type EnvReader, type RuntimeDefaults } from "@lucid-rdp/runtime";
import { readStorageConfig, type StorageConfig } from "@lucid-rdp/storage";
import { assertCapLimits, type CapLimits } from "./domain/caps.js";
import {
  assertPolicyConfig,
  defaultPolicyBounds,
  defaultPolicyValues,
  type PolicyBounds,
  type SessionPolicyValues,
} from "./domain/policy.js";

export const runtimeDefaults: RuntimeDefaults = { serviceName: "session-controller", port: 8082 };

export interface SessionControllerConfig {
  readonly storage: StorageConfig;
  /** Where servers come from (SERVER_MANAGER_URL); unset: CreateSession fails FAILED_PRECONDITION. */
  readonly serverManagerUrl?: string;
  readonly meshToken?: string;
  readonly caps: CapLimits;
  readonly policy: SessionPolicyValues;
  readonly bounds: PolicyBounds;
  readonly warnBeforeMs: number;
  readonly timerIntervalMs: number;
  readonly connectionPollMs: number;
  /** How long provisioning may take before the session FAILS. */
  readonly provisionTimeoutMs: number;
  /** SESSION_TEST_CLOCK_FILE: the controllable clock of process tests (real time + offset in ms). */
  readonly testClockFile?: string;
  /** The resource-monitor of a session's host (RESOURCE_MONITOR_URL, `{host}` substituted). */
  readonly resourceMonitorUrl?: string;
  /** The browser console at /console: its files and the URLs the browser calls. */
  readonly console: ConsoleConfig;
}

export interface ConsoleConfig {
  /** CONSOLE_DIR: where `tsx scripts/build-console.ts` wrote index.html, app.js and style.css. */
  readonly dir: string;
  /** CONSOLE_SERVER_MANAGER_URL (default SERVER_MANAGER_URL): server-manager as the browser reaches it. */
  readonly serverManagerUrl?: string;
  /**
   * CONSOLE_RESOURCE_MONITOR_URL (default RESOURCE_MONITOR_URL unless it is a `{host}` template):
   * the resource-monitor whose host charts and alerts the console shows.
   */
  readonly resourceMonitorUrl?: string;
}

/** The console build of this checkout (packages/console/dist); images set CONSOLE_DIR to theirs. */
const defaultConsoleDir = fileURLToPath(new URL("../../../packages/console/dist", import.meta.url));

export function readSessionControllerConfig(r: EnvReader): SessionControllerConfig {
  const ms = (name: string, def: number, min: number, max: number) =>
    r.int(name, { default: def, min, max });
  const caps = {
    perUser: ms("SESSION_MAX_PER_USER", 3, 1, 100_000),
    total: ms("SESSION_MAX_TOTAL", 100, 1, 1_000_000),
  };
  try {
    assertCapLimits(caps);
  } catch (e) {
    throw new ConfigError(
      "SESSION_MAX_PER_USER",
      `at most SESSION_MAX_TOTAL (${(e as Error).message})`,
    );
  }
  const policy: SessionPolicyValues = {
    connectDeadlineMs: ms(
      "SESSION_CONNECT_DEADLINE_MS",
      defaultPolicyValues.connectDeadlineMs,
      1_000,
      86_400_000,
    ),
    idleTimeoutMs: ms(
      "SESSION_IDLE_TIMEOUT_MS",
      defaultPolicyValues.idleTimeoutMs,
      1_000,
      2_592_000_000,
    ),
    disconnectedLimitMs: ms(
      "SESSION_DISCONNECTED_LIMIT_MS",
      defaultPolicyValues.disconnectedLimitMs,
      1_000,
      2_592_000_000,
    ),
    maxDurationMs: ms(
      "SESSION_MAX_DURATION_MS",
      defaultPolicyValues.maxDurationMs,
      1_000,
      2_592_000_000,
    ),
    keepaliveTimeoutMs: ms(
      "SESSION_KEEPALIVE_TIMEOUT_MS",
      defaultPolicyValues.keepaliveTimeoutMs,
      1_000,
      86_400_000,
    ),
    reuse: defaultPolicyValues.reuse,
  };
  // Configured defaults widen the override bounds where they need to, never narrow them.
  const bounds = Object.fromEntries(
    Object.entries(defaultPolicyBounds).map(([k, b]) => {
      const v = policy[k as keyof typeof defaultPolicyBounds];
      return [k, { minMs: Math.min(b.minMs, v), maxMs: Math.max(b.maxMs, v) }];
    }),
  ) as unknown as PolicyBounds;
  try {
    assertPolicyConfig(policy, bounds);
  } catch (e) {
    throw new ConfigError("SESSION_*_MS", (e as Error).message);
  }
  const clockFile = r.string("SESSION_TEST_CLOCK_FILE", {
    pattern: /^\/[A-Za-z0-9._/-]+$/,
    accepts: "an absolute file path",
  });
  const serverManagerUrl = r.url("SERVER_MANAGER_URL");
  const resourceMonitorUrl = r.string("RESOURCE_MONITOR_URL", {
    pattern: /^https?:\/\/[A-Za-z0-9.{}:[\]-]+(:[0-9]{1,5})?\/?$/,
    accepts: "an http(s) URL, where {host} stands for the session's host (e.g. http://{host}:8090)",
  });
  return {
    storage: readStorageConfig(r),
    serverManagerUrl,
    meshToken: r.secret("MESH_TOKEN", { minLength: 16 }),
    caps,
    policy,
    bounds,
    warnBeforeMs: ms("SESSION_WARN_BEFORE_MS", 60_000, 0, 86_400_000),
    timerIntervalMs: ms("SESSION_TIMER_INTERVAL_MS", 1_000, 50, 600_000),
    connectionPollMs: ms("SESSION_CONNECTION_POLL_MS", 5_000, 100, 600_000),
    provisionTimeoutMs: ms("SESSION_PROVISION_TIMEOUT_MS", 120_000, 1_000, 3_600_000),
    testClockFile: clockFile,
    resourceMonitorUrl,
    console: {
      dir:
        r.string("CONSOLE_DIR", {
          pattern: /^\/[A-Za-z0-9._/-]+$/,
          accepts: "an absolute directory path",
        }) ?? defaultConsoleDir,
      serverManagerUrl: r.url("CONSOLE_SERVER_MANAGER_URL") ?? serverManagerUrl,
      resourceMonitorUrl:
        r.url("CONSOLE_RESOURCE_MONITOR_URL") ??
        (resourceMonitorUrl?.includes("{host}") ? undefined : resourceMonitorUrl),
    },
  };
}
