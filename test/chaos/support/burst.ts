/**
 * The chaos suite's client: a burst of concurrent CreateSession calls, each with its own
 * request_id, every failed call retried with the same request_id, as a careful client would. Each
 * request starts on session-controller replica `index % replicas` and moves to the next replica on
 * every retry, as a load balancer in front of the replicas would. Every call is recorded with its
 * start, end, replica and outcome, so that the checks can tell what a client saw while a fault was
 * on.
 *
 * ```ts
 * const burst = startBurst(mesh, distinctRequests(16));
 * await delay(500); // inject a fault
 * const done = await burst.done;
 * ```
 */
import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { SessionReusePolicy, SessionState } from "@lucid-rdp/gen";
import type { Mesh } from "@lucid-rdp/testing";

/** One CreateSession call: its timing and outcome. */
export interface CallRecord {
  readonly requestId: string;
  /** 0 for the first call of the request, then 1, 2, ... for its retries. */
  readonly attempt: number;
  /** The session-controller replica it went to. */
  readonly replica: number;
  /** Date.now() when it was sent and when it settled. */
  readonly start: number;
  readonly end: number;
  /** "OK", or the error code in the proto's spelling (UNAVAILABLE, DEADLINE_EXCEEDED, ...). */
  readonly code: string;
  /** The error's message (without the code prefix); absent on success. */
  readonly message?: string;
  /** The answered session's id and state, on success. */
  readonly sessionId?: string;
  readonly sessionState?: string;
}

/** What a burst sends: one entry per concurrent caller. */
export interface BurstRequest {
  readonly requestId: string;
  readonly user: string;
}

/** One caller's story: its calls in order, and the answer it ended with, if any. */
export interface BurstOutcome {
  readonly index: number;
  readonly request: BurstRequest;
  readonly calls: CallRecord[];
  /** The session of the first successful call; undefined when every call failed. */
  answer?: { readonly sessionId: string; readonly state: string };
}

export interface BurstOptions {
  /**
   * CreateSession's wait_timeout: how long each call waits for READY or FAILED, in seconds.
   * @default 15
   */
  readonly waitTimeoutSeconds?: number;
  /**
   * The client deadline of each call, in milliseconds.
   * @default 25000
   */
  readonly callTimeoutMs?: number;
  /**
   * How long a caller keeps retrying failed calls after its first call, in milliseconds.
   * @default 40000
   */
  readonly retryForMs?: number;
  /**
   * The pause before each retry, in milliseconds (plus up to 20% jitter).
   * @default 500
   */
  readonly backoffMs?: number;
}

/** A running burst. */
export interface Burst {
  /** Date.now() when the burst began. */
  readonly startedAt: number;
  /** Every caller, in request order; their `calls` grow while the burst runs. */
  readonly outcomes: readonly BurstOutcome[];
  /** Resolves once every caller has an answer or has given up. */
  readonly done: Promise<readonly BurstOutcome[]>;
}

/** `n` requests with request ids of their own, for users chaos-u0 .. chaos-u<n-1>. */
export function distinctRequests(n: number): BurstRequest[] {
  return Array.from({ length: n }, (_, i) => ({ requestId: randomUUID(), user: `chaos-u${i}` }));
}

/** The proto spelling of a Connect code: Code.DeadlineExceeded -> "DEADLINE_EXCEEDED". */
export function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * Starts one caller per request at once, against the mesh's session-controller replicas, with
 * reuse policy NEVER (a burst asks for new sessions, never for a user's existing one).
 */
export function startBurst(
  mesh: Mesh,
  requests: readonly BurstRequest[],
  opts: BurstOptions = {},
): Burst {
  const waitTimeoutSeconds = opts.waitTimeoutSeconds ?? 15;
  const callTimeoutMs = opts.callTimeoutMs ?? 25_000;
  const retryForMs = opts.retryForMs ?? 40_000;
  const backoffMs = opts.backoffMs ?? 500;
  const replicas = Math.max(1, mesh.sessionControllers.length);
  const startedAt = Date.now();
  const outcomes: BurstOutcome[] = requests.map((request, index) => ({
    index,
    request,
    calls: [],
  }));

  const run = async (outcome: BurstOutcome): Promise<void> => {
    const { requestId, user } = outcome.request;
    const giveUpAt = Date.now() + retryForMs;
    for (let attempt = 0; ; attempt++) {
      const replica = (outcome.index + attempt) % replicas;
      const start = Date.now();
      try {
        const { session } = await mesh
          .sessionController(replica, { timeoutMs: callTimeoutMs })
          .createSession({
            requestId,
            user,
            waitTimeout: { seconds: BigInt(waitTimeoutSeconds) },
            policy: { reuse: SessionReusePolicy.NEVER },
          });
        const sessionId = session?.id ?? "";
        const state = SessionState[session?.state ?? SessionState.UNSPECIFIED];
        outcome.calls.push({
          requestId,
          attempt,
          replica,
          start,
          end: Date.now(),
          code: "OK",
          sessionId,
          sessionState: state,
        });
        outcome.answer = { sessionId, state };
        return;
      } catch (e) {
        const err = ConnectError.from(e);
        outcome.calls.push({
          requestId,
          attempt,
          replica,
          start,
          end: Date.now(),
          code: codeName(err.code),
          message: err.rawMessage,
        });
      }
      if (Date.now() >= giveUpAt) return;
      await delay(backoffMs * (1 + Math.random() * 0.2));
    }
  };

  const done = Promise.all(outcomes.map(run)).then(() => outcomes);
  return { startedAt, outcomes, done };
}

/** "OK 14, UNAVAILABLE 30": how many calls ended with each code. */
export function codeHistogram(calls: readonly CallRecord[]): string {
  const counts = new Map<string, number>();
  for (const c of calls) counts.set(c.code, (counts.get(c.code) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
