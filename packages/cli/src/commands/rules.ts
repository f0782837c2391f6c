/**
 * `lucid-rdp rules ls | get | create | edit | delete`: resource-monitor's alert rules. `edit`
 * sends UpdateAlertRule with an update mask of exactly the flags given.
 */
import { randomUUID } from "node:crypto";
import {
  type AlertMetric,
  AlertMetricSchema,
  AlertRuleSchema,
  type Comparison,
  ComparisonSchema,
  type Severity,
  SeveritySchema,
} from "@lucid-rdp/gen";
import { type Command, Option } from "commander";
import { action, allPages, type CommandDeps, repeatable } from "../command-kit.js";
import { comparisonSymbols, ruleTable } from "../format/alert-view.js";
import { parseDuration } from "../parse/parse-duration.js";
import { enumChoices, parseEnum } from "../parse/parse-enum.js";
import { finiteNumber } from "../parse/parse-int.js";
import { collectLabel } from "../parse/parse-labels.js";
import { type MatcherInit, parseSelector } from "../parse/parse-selector.js";
import { durationInit } from "../parse/to-proto.js";
import { UsageError } from "../usage-error.js";

/** The rule flags create and edit share. */
interface RuleFlags {
  name?: string;
  metric?: AlertMetric;
  comparison?: Comparison;
  threshold?: number;
  severity?: Severity;
  for?: number;
  label?: Record<string, string>;
  selector?: MatcherInit[];
  summary?: string;
}

/** Each rule flag and the AlertRule field (update mask path) it sets. */
const maskPaths: readonly (readonly [keyof RuleFlags, string])[] = [
  ["name", "display_name"],
  ["metric", "metric"],
  ["comparison", "comparison"],
  ["threshold", "threshold"],
  ["severity", "severity"],
  ["for", "for_duration"],
  ["label", "labels"],
  ["selector", "selector"],
  ["summary", "summary"],
];

const comparisonAliases: Record<string, string> = {
  ...Object.fromEntries(
    Object.entries(comparisonSymbols).map(([sym, c]) => [
      sym,
      ComparisonSchema.value[c]?.localName ?? "",
    ]),
  ),
  gt: "GREATER_THAN",
  gte: "GREATER_THAN_OR_EQUAL",
  ge: "GREATER_THAN_OR_EQUAL",
  lt: "LESS_THAN",
  lte: "LESS_THAN_OR_EQUAL",
  le: "LESS_THAN_OR_EQUAL",
  eq: "EQUAL",
  ne: "NOT_EQUAL",
};

/** Adds the rule flags to `cmd`. */
function ruleFlags(cmd: Command): Command {
  return cmd
    .option("--name <text>", "the rule's name for people")
    .addOption(
      new Option(
        "--metric <metric>",
        `the metric watched: ${enumChoices(AlertMetricSchema).join(", ")}`,
      ).argParser((t) => parseEnum(AlertMetricSchema, t) as AlertMetric),
    )
    .addOption(
      new Option(
        "--comparison <op>",
        "how the value compares with the threshold: > >= < <= == != (or gt, gte, lt, lte, eq, ne)",
      ).argParser((t) => parseEnum(ComparisonSchema, t, comparisonAliases) as Comparison),
    )
    .option("--threshold <number>", "the threshold, in the metric's unit", finiteNumber)
    .addOption(
      new Option("--severity <severity>", `${enumChoices(SeveritySchema).join(", ")}`).argParser(
        (t) => parseEnum(SeveritySchema, t) as Severity,
      ),
    )
    .option(
      "--for <duration>",
      "how long the condition holds before firing (0 to 24h)",
      parseDuration,
    )
    .option("--label <key=value>", "a label copied onto alerts (repeatable)", collectLabel)
    .option(
      "--selector <matcher>",
      "a series matcher: name=value, name!=value, name=~regex, name!~regex (repeatable)",
      repeatable(parseSelector),
    )
    .option("--summary <text>", "a description copied onto alerts");
}

/** The AlertRule fields the flags give. */
function ruleInit(f: RuleFlags) {
  return {
    displayName: f.name,
    metric: f.metric,
    comparison: f.comparison,
    threshold: f.threshold,
    severity: f.severity,
    forDuration: f.for === undefined ? undefined : durationInit(f.for),
    labels: f.label,
    selector: f.selector,
    summary: f.summary,
  };
}

/** Adds `rules` and its subcommands to `program`. */
export function registerRules(program: Command, deps: CommandDeps): void {
  const rules = program.command("rules").description("resource-monitor's alert rules");
  rules
    .command("ls")
    .description("list alert rules, oldest first")
    .action(
      action(deps, async (ctx) => {
        const client = ctx.monitor();
        const list = await allPages(async (pageToken) => {
          const res = await client.listAlertRules({ pageToken, pageSize: 1000 });
          return { items: res.alertRules, next: res.nextPageToken };
        });
        if (ctx.json) ctx.printJson(AlertRuleSchema, list);
        else ctx.out(list.length === 0 ? "no rules" : ruleTable(list, ctx.io.now()));
      }),
    );
  rules
    .command("get")
    .description("show one alert rule")
    .argument("<id>", "the rule's id")
    .action(
      action(deps, async (ctx, [id]) => {
        const { alertRule } = await ctx.monitor().getAlertRule({ alertRuleId: id });
        if (alertRule === undefined) return;
        if (ctx.json) ctx.printJson(AlertRuleSchema, alertRule);
        else ctx.out(ruleTable([alertRule], ctx.io.now()));
      }),
    );
  ruleFlags(
    rules
      .command("create")
      .description(
        "create an alert rule (--name, --metric, --comparison, --threshold and --severity required)",
      ),
  )
    .option("--disabled", "create it switched off")
    .option("--request-id <uuid>", "the idempotency key (AIP-155); a new UUID when absent")
    .action(
      action<RuleFlags & { disabled?: boolean; requestId?: string }>(deps, async (ctx, _a, o) => {
        const missing = (["name", "metric", "comparison", "threshold", "severity"] as const)
          .filter((k) => o[k] === undefined)
          .map((k) => `--${k}`);
        if (missing.length > 0) throw new UsageError(`rules create needs ${missing.join(", ")}`);
        const { alertRule } = await ctx.monitor().createAlertRule({
          requestId: o.requestId ?? randomUUID(),
          alertRule: { ...ruleInit(o), disabled: o.disabled ?? false },
        });
        if (alertRule === undefined) return;
        if (ctx.json) ctx.printJson(AlertRuleSchema, alertRule);
        else ctx.out(ruleTable([alertRule], ctx.io.now()));
      }),
    );
  ruleFlags(
    rules
      .command("edit")
      .description(
        "change the given fields of a rule, and only those (--label replaces all labels)",
      )
      .argument("<id>", "the rule's id"),
  )
    .option("--enable", "switch the rule on")
    .option("--disable", "switch the rule off")
    .option("--etag <etag>", "act only if the rule is still at this version")
    .action(
      action<RuleFlags & { enable?: boolean; disable?: boolean; etag?: string }>(
        deps,
        async (ctx, [id], o) => {
          if (o.enable && o.disable) throw new UsageError("give --enable or --disable, not both");
          const paths = maskPaths.filter(([flag]) => o[flag] !== undefined).map(([, p]) => p);
          if (o.enable || o.disable) paths.push("disabled");
          if (paths.length === 0)
            throw new UsageError("rules edit: give at least one field to change");
          const { alertRule } = await ctx.monitor().updateAlertRule({
            alertRule: { ...ruleInit(o), id, disabled: o.disable === true, etag: o.etag ?? "" },
            updateMask: { paths },
          });
          if (alertRule === undefined) return;
          if (ctx.json) ctx.printJson(AlertRuleSchema, alertRule);
          else ctx.out(ruleTable([alertRule], ctx.io.now()));
        },
      ),
    );
  rules
    .command("delete")
    .description("delete an alert rule; its alerts go with it")
    .argument("<id>", "the rule's id")
    .option("--etag <etag>", "act only if the rule is still at this version")
    .action(
      action<{ etag?: string }>(deps, async (ctx, [id], o) => {
        await ctx.monitor().deleteAlertRule({ alertRuleId: id, etag: o.etag ?? "" });
        if (ctx.json) ctx.out("{}");
        else ctx.out(`deleted rule ${id}`);
      }),
    );
}
