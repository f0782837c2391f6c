/**
 * `lucid-rdp sessions terminate ID [--yes] [--reason TEXT]`: ends a session. Without --yes it
 * asks on a terminal and refuses (exit 2) when there is none to ask on.
 */
import { SessionSchema } from "@lucid-rdp/gen";
import type { Command } from "commander";
import { action, type CommandDeps } from "../command-kit.js";
import { sessionDetails } from "../format/session-view.js";
import { UsageError } from "../usage-error.js";

/** Adds `terminate` to the `sessions` command. */
export function registerSessionTerminate(sessions: Command, deps: CommandDeps): void {
  sessions
    .command("terminate")
    .description("end a session and free its server")
    .argument("<id>", "the session's id")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--reason <text>", "why, recorded in the audit log")
    .action(
      action<{ yes?: boolean; reason?: string }>(deps, async (ctx, [id], o) => {
        if (!o.yes) {
          if (!ctx.io.interactive) {
            throw new UsageError(`not a terminal to confirm on: add --yes to terminate ${id}`);
          }
          const { session: s } = await ctx.sessions().getSession({ sessionId: id });
          const who = s
            ? ` of ${s.user}${s.connectionCount > 0 ? `, ${s.connectionCount} connected` : ""}`
            : "";
          if (!(await ctx.io.confirm(`Terminate session ${id}${who}?`))) {
            ctx.err("not terminated");
            return;
          }
        }
        const { session } = await ctx
          .sessions()
          .terminateSession({ sessionId: id, reason: o.reason ?? "" });
        if (session === undefined) return;
        if (ctx.json) ctx.printJson(SessionSchema, session);
        else ctx.out(sessionDetails(session, ctx.io.now(), (path) => ctx.rdpFileUrl(path)));
      }),
    );
}
