/**
 * Session policy: the lengths of the five timers and the reuse policy. Defaults come from config;
 * a CreateSession may override each within configured bounds, which in turn lie within the limits
 * the contract (SessionPolicy in session.proto) allows. All lengths are integer milliseconds.
 *
 * The keepalive expiry is armed for every session from its creation and renewed by each KeepAlive,
 * as the contract says ("from the last KeepAlive (or creation)"): a client that never keeps alive
 * loses its session after `keepaliveTimeoutMs`. Operators who do not want it set a long default.
 */
import type { SessionReusePolicy } from "./session-values.js";

export type { SessionReusePolicy };

/** The policy in force for one session. */
export interface SessionPolicyValues {
  /** How long a READY session waits for its first connection. */
  readonly connectDeadlineMs: number;
  /** How long an ACTIVE session may go without activity. */
  readonly idleTimeoutMs: number;
  /** How long a DISCONNECTED session is kept for a reconnect. */
  readonly disconnectedLimitMs: number;
  /** The longest a session may live from its creation. */
  readonly maxDurationMs: number;
  /** How long a session lives after its last KeepAlive (or its creation). */
  readonly keepaliveTimeoutMs: number;
  /** Whether CreateSession hands back a session the user already has. */
  readonly reuse: SessionReusePolicy;
}

/** The five timer lengths of a policy. */
export type SessionTimerLengths = Omit<SessionPolicyValues, "reuse">;

/** A field of a policy that holds a timer length. */
export type PolicyTimerField = keyof SessionTimerLengths;

/** The range a timer length may take, both ends included. */
export interface PolicyBound {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The range of each timer length that a per-session override may take. */
export type PolicyBounds = { readonly [K in PolicyTimerField]: PolicyBound };

/** Every timer field, in the order of the contract. */
export const policyTimerFields: readonly PolicyTimerField[] = [
  "connectDeadlineMs",
  "idleTimeoutMs",
  "disconnectedLimitMs",
  "maxDurationMs",
  "keepaliveTimeoutMs",
];

/** The contract's name of each field, as a caller sees it in an error. */
export const policyFieldNames: { readonly [K in PolicyTimerField]: string } = {
  connectDeadlineMs: "policy.connect_deadline",
  idleTimeoutMs: "policy.idle_timeout",
  disconnectedLimitMs: "policy.disconnected_limit",
  maxDurationMs: "policy.max_duration",
  keepaliveTimeoutMs: "policy.keepalive_timeout",
};

const second = 1_000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;

/**
 * The defaults: connect deadline 5 min, idle 30 min, disconnected 15 min, maximum duration 12 h,
 * keepalive 10 min, reuse EXISTING (the proto's default: hand back the user's live session).
 */
export const defaultPolicyValues: SessionPolicyValues = {
  connectDeadlineMs: 5 * minute,
  idleTimeoutMs: 30 * minute,
  disconnectedLimitMs: 15 * minute,
  maxDurationMs: 12 * hour,
  keepaliveTimeoutMs: 10 * minute,
  reuse: "EXISTING",
};

/** What the contract accepts at all (session.proto); configured bounds must lie within. */
export const contractPolicyLimits: PolicyBounds = {
  connectDeadlineMs: { minMs: second, maxMs: day },
  idleTimeoutMs: { minMs: second, maxMs: 30 * day },
  disconnectedLimitMs: { minMs: second, maxMs: 30 * day },
  maxDurationMs: { minMs: second, maxMs: 30 * day },
  keepaliveTimeoutMs: { minMs: second, maxMs: day },
};

/**
 * The default bounds of overrides: connect 10 s to 1 h, idle 1 min to 24 h, disconnected 1 min to
 * 7 d, maximum duration 5 min to 7 d, keepalive 30 s to 24 h.
 */
export const defaultPolicyBounds: PolicyBounds = {
  connectDeadlineMs: { minMs: 10 * second, maxMs: hour },
  idleTimeoutMs: { minMs: minute, maxMs: day },
  disconnectedLimitMs: { minMs: minute, maxMs: 7 * day },
  maxDurationMs: { minMs: 5 * minute, maxMs: 7 * day },
  keepaliveTimeoutMs: { minMs: 30 * second, maxMs: day },
};

/**
 * Thrown when a per-session override lies outside the configured bounds. The service maps it to
 * INVALID_ARGUMENT with a field violation on `field`; the message names the field and the bound.
 */
export class PolicyOutOfBoundsError extends Error {
  override readonly name = "PolicyOutOfBoundsError";
  constructor(
    /** The contract's field name, e.g. `policy.idle_timeout`. */
    readonly field: string,
    /** Which end of the range was crossed. */
    readonly bound: "min" | "max",
    readonly limitMs: number,
    readonly valueMs: number,
  ) {
    super(
      `${field} must be at ${bound === "min" ? "least" : "most"} ${formatDuration(limitMs)}, ` +
        `got ${formatDuration(valueMs)}`,
    );
  }
}

/** Thrown when configured defaults or bounds are inconsistent; config reports it and exits. */
export class PolicyConfigError extends Error {
  override readonly name = "PolicyConfigError";
  constructor(
    readonly field: PolicyTimerField | "reuse",
    message: string,
  ) {
    super(message);
  }
}

/**
 * The policy in force for a new session: each override checked against its bounds, the defaults
 * for the rest. Throws PolicyOutOfBoundsError naming the first field out of bounds, RangeError for
 * a length that is not an integer number of milliseconds (a mapping bug, not a caller's error).
 */
export function resolvePolicy(
  overrides: Partial<SessionPolicyValues>,
  defaults: SessionPolicyValues,
  bounds: PolicyBounds,
): SessionPolicyValues {
  const lengths = {} as Record<PolicyTimerField, number>;
  for (const field of policyTimerFields) {
    const value = overrides[field];
    if (value === undefined) {
      lengths[field] = defaults[field];
      continue;
    }
    assertMs(field, value);
    const { minMs, maxMs } = bounds[field];
    if (value < minMs)
      throw new PolicyOutOfBoundsError(policyFieldNames[field], "min", minMs, value);
    if (value > maxMs)
      throw new PolicyOutOfBoundsError(policyFieldNames[field], "max", maxMs, value);
    lengths[field] = value;
  }
  return { ...lengths, reuse: overrides.reuse ?? defaults.reuse };
}

/**
 * Checks configured defaults and bounds once, at start-up: every bound an integer range within the
 * contract's limits, every default within its bounds. Throws PolicyConfigError naming the field.
 */
export function assertPolicyConfig(defaults: SessionPolicyValues, bounds: PolicyBounds): void {
  for (const field of policyTimerFields) {
    const name = policyFieldNames[field];
    const { minMs, maxMs } = bounds[field];
    const limits = contractPolicyLimits[field];
    if (!Number.isSafeInteger(minMs) || !Number.isSafeInteger(maxMs) || minMs > maxMs) {
      throw new PolicyConfigError(field, `${name}: bounds ${minMs}..${maxMs} ms are not a range`);
    }
    if (minMs < limits.minMs || maxMs > limits.maxMs) {
      throw new PolicyConfigError(
        field,
        `${name}: bounds ${formatRange(bounds[field])} exceed what the contract allows, ` +
          formatRange(limits),
      );
    }
    const value = defaults[field];
    if (!Number.isSafeInteger(value) || value < minMs || value > maxMs) {
      throw new PolicyConfigError(
        field,
        `${name}: default ${Number.isFinite(value) ? formatDuration(value) : String(value)} ` +
          `lies outside its bounds ${formatRange(bounds[field])}`,
      );
    }
  }
  if (!["EXISTING", "DISCONNECTED", "NEVER"].includes(defaults.reuse)) {
    throw new PolicyConfigError("reuse", `policy.reuse: unknown default ${String(defaults.reuse)}`);
  }
}

/** The record fields that store a policy: the timer lengths and the reuse policy. */
export function policyToRecord(values: SessionPolicyValues): {
  policy: Readonly<Record<string, number>>;
  reusePolicy: SessionReusePolicy;
} {
  const policy: Record<string, number> = {};
  for (const field of policyTimerFields) policy[field] = values[field];
  return { policy, reusePolicy: values.reuse };
}

/**
 * The policy a stored record holds. A length missing from an older record takes `defaults`, so a
 * record written before a timer existed still gets every timer.
 */
export function policyFromRecord(
  record: {
    readonly policy: Readonly<Record<string, number>>;
    readonly reusePolicy?: SessionReusePolicy;
  },
  defaults: SessionPolicyValues,
): SessionPolicyValues {
  const lengths = {} as Record<PolicyTimerField, number>;
  for (const field of policyTimerFields) {
    const value = record.policy[field];
    lengths[field] = typeof value === "number" && Number.isFinite(value) ? value : defaults[field];
  }
  return { ...lengths, reuse: record.reusePolicy ?? defaults.reuse };
}

/** A duration for people: `1500ms` -> `1s500ms`, `5400000` -> `1h30m`, `0` -> `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return "0s";
  let rest = ms;
  let text = "";
  for (const [unit, size] of [
    ["d", day],
    ["h", hour],
    ["m", minute],
    ["s", second],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) text += `${n}${unit}`;
    rest -= n * size;
  }
  if (rest > 0) text += `${rest}ms`;
  return text;
}

function formatRange(bound: PolicyBound): string {
  return `${formatDuration(bound.minMs)}..${formatDuration(bound.maxMs)}`;
}

function assertMs(field: PolicyTimerField, value: number): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${policyFieldNames[field]} must be whole milliseconds, got ${value}`);
  }
}
