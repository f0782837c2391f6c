/** `lucid-rdp alerts ls [--watch] | silence ID --for DURATION`. */
import {
  AlertSchema,
  type AlertState,
  AlertStateSchema,
  type Severity,
  SeveritySchema,
  WatchAlertsResponseSchema,
} from "@lucid-rdp/gen";
import { type Command, Option } from "commander";
import { streamTimeoutMs } from "../cli-context.js";
import { action, allPages, type CommandDeps, repeatable } from "../command-kit.js";
import { alertEventLine, alertTable } from "../format/alert-view.js";
import { parseDuration } from "../parse/parse-duration.js";
import { enumChoices, parseEnum } from "../parse/parse-enum.js";
import { durationInit } from "../parse/to-proto.js";

interface LsOptions {
  state?: AlertState[];
  severity?: Severity;
  rule?: string;
  silenced?: boolean;
  watch?: boolean;
}

/** Adds `alerts` and its subcommands to `program`. */
export function registerAlerts(program: Command, deps: CommandDeps): void {
  const alerts = program.command("alerts").description("alerts raised by resource-monitor's rules");
  alerts
    .command("ls")
    .description("list alerts, most recently changed first; --watch follows changes")
    .addOption(
      new Option(
        "--state <state>",
        `only alerts in this state, repeatable: ${enumChoices(AlertStateSchema).join(", ")}`,
      ).argParser(repeatable((t) => parseEnum(AlertStateSchema, t) as AlertState)),
    )
    .addOption(
      new Option(
        "--severity <severity>",
        `only this severity: ${enumChoices(SeveritySchema).join(", ")}`,
      ).argParser((t) => parseEnum(SeveritySchema, t) as Severity),
    )
    .option("--rule <id>", "only alerts of this rule")
    .option("--silenced", "only silenced alerts")
    .option("--watch", "then follow alert changes until interrupted (--json: NDJSON)")
    .action(
      action<LsOptions>(deps, async (ctx, _args, o) => {
        const client = ctx.monitor();
        let lastEventId = "";
        const list = await allPages(async (pageToken) => {
          const res = await client.listAlerts({
            states: o.state,
            severity: o.severity,
            ruleId: o.rule,
            silenced: o.silenced,
            pageToken,
            pageSize: 1000,
          });
          if (lastEventId === "") lastEventId = res.lastEventId;
          return { items: res.alerts, next: res.nextPageToken };
        });
        if (ctx.json && o.watch) for (const a of list) ctx.printJsonLine(AlertSchema, a);
        else if (ctx.json) ctx.printJson(AlertSchema, list);
        else ctx.out(list.length === 0 ? "no alerts" : alertTable(list, ctx.io.now()));
        if (!o.watch) return;
        const stream = client.watchAlerts(
          { ruleId: o.rule, severity: o.severity, afterEventId: lastEventId },
          { timeoutMs: streamTimeoutMs },
        );
        for await (const event of stream) {
          if (ctx.json) ctx.printJsonLine(WatchAlertsResponseSchema, event);
          else ctx.out(alertEventLine(event, ctx.io.now()));
        }
      }),
    );
  alerts
    .command("silence")
    .description("silence an alert for a while (--for 0 lifts the silence)")
    .argument("<id>", "the alert's id")
    .requiredOption("--for <duration>", "how long, e.g. 30m, 2h, 1d (at most 30d)", parseDuration)
    .option("--comment <text>", "why, recorded with the silence")
    .action(
      action<{ for: number; comment?: string }>(deps, async (ctx, [id], o) => {
        const { alert } = await ctx.monitor().silenceAlert({
          alertId: id,
          duration: durationInit(o.for),
          comment: o.comment ?? "",
        });
        if (alert === undefined) return;
        if (ctx.json) ctx.printJson(AlertSchema, alert);
        else ctx.out(alertTable([alert], ctx.io.now()));
      }),
    );
}
