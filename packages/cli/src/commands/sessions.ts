/** `lucid-rdp sessions ls | get | watch` (create and terminate have files of their own). */
import {
  SessionSchema,
  type SessionState,
  SessionStateSchema,
  WatchSessionsResponseSchema,
} from "@lucid-rdp/gen";
import { type Command, Option } from "commander";
import { streamTimeoutMs } from "../cli-context.js";
import { action, allPages, type CommandDeps, repeatable } from "../command-kit.js";
import { sessionDetails, sessionEventLine, sessionTable } from "../format/session-view.js";
import { enumChoices, parseEnum } from "../parse/parse-enum.js";
import { intIn } from "../parse/parse-int.js";
import { registerSessionCreate } from "./session-create.js";
import { registerSessionTerminate } from "./session-terminate.js";

interface LsOptions {
  user?: string;
  state?: SessionState[];
  server?: string;
  pageSize?: number;
  pageToken?: string;
  all?: boolean;
}

/** Adds `sessions` and its subcommands to `program`. */
export function registerSessions(program: Command, deps: CommandDeps): void {
  const sessions = program.command("sessions").description("users' remote desktop sessions");

  sessions
    .command("ls")
    .description("list sessions, newest first")
    .option("--user <user>", "only this user's sessions")
    .addOption(
      new Option(
        "--state <state>",
        `only sessions in this state, repeatable: ${enumChoices(SessionStateSchema).join(", ")}`,
      ).argParser(repeatable((t) => parseEnum(SessionStateSchema, t) as SessionState)),
    )
    .option("--server <id>", "only the session of this server")
    .option("--page-size <n>", "sessions per page (1-1000, default 50)", intIn(1, 1000))
    .option("--page-token <token>", "continue from a previous page")
    .option("--all", "read every page")
    .action(
      action<LsOptions>(deps, async (ctx, _args, o) => {
        const client = ctx.sessions();
        const page = async (pageToken: string) => {
          const res = await client.listSessions({
            user: o.user,
            states: o.state,
            serverId: o.server,
            pageSize: o.pageSize,
            pageToken,
          });
          return { items: res.sessions, next: res.nextPageToken };
        };
        const first = o.all ? undefined : await page(o.pageToken ?? "");
        const list = first?.items ?? (await allPages(page));
        if (ctx.json) ctx.printJson(SessionSchema, list);
        else ctx.out(list.length === 0 ? "no sessions" : sessionTable(list, ctx.io.now()));
        if (first && first.next !== "") {
          ctx.err(`more sessions: --all, or --page-token ${first.next}`);
        }
      }),
    );

  sessions
    .command("get")
    .description("show one session")
    .argument("<id>", "the session's id")
    .action(
      action(deps, async (ctx, [id]) => {
        const { session } = await ctx.sessions().getSession({ sessionId: id });
        if (session === undefined) return;
        if (ctx.json) ctx.printJson(SessionSchema, session);
        else ctx.out(sessionDetails(session, ctx.io.now(), (path) => ctx.rdpFileUrl(path)));
      }),
    );

  registerSessionCreate(sessions, deps);
  registerSessionTerminate(sessions, deps);

  sessions
    .command("watch")
    .description("follow session changes until interrupted (--json: one JSON object a line)")
    .option("--user <user>", "only this user's sessions")
    .option("--session <id>", "only this session")
    .option("--after <event-id>", "start after this event (default: the newest when it starts)")
    .action(
      action<{ user?: string; session?: string; after?: string }>(deps, async (ctx, _a, o) => {
        const client = ctx.sessions();
        // From the newest event at start (a list's cursor), so nothing between start and the
        // stream's opening is missed.
        const after = o.after ?? (await client.listSessions({ pageSize: 1 })).lastEventId;
        ctx.err(`following session events${after ? ` after ${after}` : ""} (Ctrl-C to stop)`);
        const stream = client.watchSessions(
          { user: o.user, sessionId: o.session, afterEventId: after },
          { timeoutMs: streamTimeoutMs },
        );
        for await (const event of stream) {
          if (ctx.json) ctx.printJsonLine(WatchSessionsResponseSchema, event);
          else ctx.out(sessionEventLine(event));
        }
      }),
    );
}
