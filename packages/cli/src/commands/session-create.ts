/**
 * `lucid-rdp sessions create --user U [--wait] [--rdp FILE]`: asks for a session; with --wait, a
 * progress indicator on stderr follows it through PENDING and PROVISIONING (GetSession every half
 * second) until READY or FAILED, then prints how to connect.
 */
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Session, SessionSchema, SessionState, SessionStateSchema } from "@lucid-rdp/gen";
import type { Command } from "commander";
import yoctoSpinner from "yocto-spinner";
import type { CliContext } from "../cli-context.js";
import { action, type CommandDeps } from "../command-kit.js";
import { formatMs } from "../format/duration.js";
import { enumName } from "../format/enum-name.js";
import { connectInfoText, sessionDetails } from "../format/session-view.js";
import { parseDuration } from "../parse/parse-duration.js";
import { collectLabel } from "../parse/parse-labels.js";
import { UsageError } from "../usage-error.js";

interface CreateOptions {
  user: string;
  requestId?: string;
  label?: Record<string, string>;
  wait?: boolean;
  waitTimeout: number;
  rdp?: string;
}

/** States a --wait stops at. */
const settled = new Set([
  SessionState.READY,
  SessionState.ACTIVE,
  SessionState.DISCONNECTED,
  SessionState.TERMINATING,
  SessionState.TERMINATED,
  SessionState.FAILED,
]);

/** How often --wait reads the session again. */
const pollMs = 500;

/** Exit code of a --wait whose session FAILED (the call itself succeeded). */
export const sessionFailedExitCode = 1;

/** Adds `create` to the `sessions` command. */
export function registerSessionCreate(sessions: Command, deps: CommandDeps): void {
  sessions
    .command("create")
    .description("create a session for a user (or get back the user's live one)")
    .requiredOption("--user <user>", "the user the session is for")
    .option("--request-id <uuid>", "the idempotency key (AIP-155); a new UUID when absent")
    .option("--label <key=value>", "a label of the session (repeatable)", collectLabel)
    .option("--wait", "wait until the session is READY or FAILED, showing progress on stderr")
    .option("--wait-timeout <duration>", "how long --wait waits", parseDuration, 120_000)
    .option("--rdp <file>", "write the session's .rdp file there (implies --wait)")
    .action(
      action<CreateOptions>(deps, async (ctx, _args, o) => {
        const requestId = o.requestId ?? randomUUID();
        const res = await ctx.sessions().createSession({
          requestId,
          user: o.user,
          labels: o.label,
          client: { name: "lucid-rdp cli" },
        });
        let session = res.session;
        if (session === undefined) throw new Error("CreateSession answered without a session");
        if (res.reused && !ctx.json) ctx.err(`reused ${o.user}'s live session ${session.id}`);
        if (o.wait || o.rdp !== undefined) session = await waitSettled(ctx, session, o.waitTimeout);
        if (o.rdp !== undefined && session.state !== SessionState.FAILED) {
          const body = session.connectInfo?.rdpFile;
          if (!body)
            throw new UsageError(`session ${session.id} has no .rdp file (${stateOf(session)})`);
          await writeFile(o.rdp, body);
          if (!ctx.json) ctx.err(`wrote ${o.rdp}`);
        }
        if (ctx.json) ctx.printJson(SessionSchema, session);
        else if (o.wait || o.rdp !== undefined) {
          ctx.out(
            session.state === SessionState.FAILED
              ? sessionDetails(session, ctx.io.now(), (path) => ctx.rdpFileUrl(path))
              : `${session.id}\n${connectInfoText(session, (path) => ctx.rdpFileUrl(path))}`,
          );
        } else ctx.out(sessionDetails(session, ctx.io.now(), (path) => ctx.rdpFileUrl(path)));
        if (session.state === SessionState.FAILED) {
          ctx.err(`session ${session.id} FAILED: ${session.stateMessage || "no reason given"}`);
          deps.run.exitCode = sessionFailedExitCode;
        }
      }),
    );
}

const stateOf = (s: Session) => enumName(SessionStateSchema, s.state);

/** Reads `session` again until it settles; the spinner shows its state while it does. */
async function waitSettled(ctx: CliContext, session: Session, timeoutMs: number): Promise<Session> {
  const start = Date.now();
  const spinner = yoctoSpinner({ stream: process.stderr });
  const text = (s: Session) =>
    `session ${s.id} ${stateOf(s)}${s.nodeId ? ` on ${s.nodeId}` : ""} (${formatMs(Date.now() - start)})`;
  if (ctx.io.interactive) spinner.start(text(session));
  else ctx.err(`waiting for session ${session.id} (${stateOf(session)})`);
  let current = session;
  try {
    while (!settled.has(current.state)) {
      if (Date.now() - start > timeoutMs) {
        throw new ConnectError(
          `session ${current.id} still ${stateOf(current)} after ${formatMs(timeoutMs)} (--wait-timeout)`,
          Code.DeadlineExceeded,
        );
      }
      await new Promise((r) => setTimeout(r, pollMs));
      const { session: next } = await ctx.sessions().getSession({ sessionId: current.id });
      if (next === undefined) break;
      if (!ctx.io.interactive && next.state !== current.state) ctx.err(`  ${stateOf(next)}`);
      current = next;
      if (spinner.isSpinning) spinner.text = text(current);
    }
  } catch (e) {
    if (spinner.isSpinning) spinner.error(text(current));
    throw e;
  }
  if (spinner.isSpinning) {
    if (current.state === SessionState.FAILED) spinner.error(text(current));
    else spinner.success(text(current));
  }
  return current;
}
