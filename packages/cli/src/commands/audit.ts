/** `lucid-rdp audit [--resource TYPE[/ID]|ID] [--subject S] [--action A] [--since T] [--until T]`. */
import { AuditEventSchema, type ResourceType, ResourceTypeSchema } from "@lucid-rdp/gen";
import { type Command, InvalidArgumentError } from "commander";
import { action, allPages, type CommandDeps } from "../command-kit.js";
import { enumName } from "../format/enum-name.js";
import { pairsText } from "../format/pairs.js";
import { renderTable } from "../format/table.js";
import { when } from "../format/time.js";
import { enumChoices, parseEnum } from "../parse/parse-enum.js";
import { intIn } from "../parse/parse-int.js";
import { parseTime } from "../parse/parse-time.js";
import { timestampInit } from "../parse/to-proto.js";

interface AuditOptions {
  resource?: { type?: ResourceType; id?: string };
  subject?: string;
  action?: string;
  since?: Date;
  until?: Date;
  pageSize?: number;
  all?: boolean;
}

/** `session`, `session/<id>`, `alert-rule/<id>` or a bare id. */
export function parseResource(text: string): { type?: ResourceType; id?: string } {
  const [head, ...rest] = text.split("/");
  const id = rest.join("/");
  const isType = enumChoices(ResourceTypeSchema).includes(
    (head ?? "").toLowerCase().replaceAll("-", "_"),
  );
  if (!isType) {
    if (rest.length > 0) {
      throw new InvalidArgumentError(
        `"${head}" is not a resource type: ${enumChoices(ResourceTypeSchema).join(", ")}`,
      );
    }
    return { id: text };
  }
  const type = parseEnum(ResourceTypeSchema, head as string) as ResourceType;
  return id === "" ? { type } : { type, id };
}

/** Adds `audit` to `program`. */
export function registerAudit(program: Command, deps: CommandDeps): void {
  program
    .command("audit")
    .description("who did what to which session, server or node, newest first")
    .option(
      "--resource <ref>",
      `TYPE, TYPE/ID or ID; types: ${enumChoices(ResourceTypeSchema).join(", ")}`,
      parseResource,
    )
    .option("--subject <subject>", "only changes by this caller (a token's sub, system:<service>)")
    .option("--action <action>", "only this action, e.g. session.terminate")
    .option("--since <time>", "from this time: ISO date-time, date, or a duration ago (1h)", (t) =>
      parseTime(t),
    )
    .option("--until <time>", "before this time (same forms as --since)", (t) => parseTime(t))
    .option("--page-size <n>", "events per page (1-1000, default 50)", intIn(1, 1000))
    .option("--all", "read every page")
    .action(
      action<AuditOptions>(deps, async (ctx, _args, o) => {
        const client = ctx.sessions();
        let more = false;
        const list = await allPages(async (pageToken) => {
          const res = await client.listAuditEvents({
            resourceType: o.resource?.type,
            resourceId: o.resource?.id,
            subject: o.subject,
            action: o.action,
            startTime: o.since ? timestampInit(o.since) : undefined,
            endTime: o.until ? timestampInit(o.until) : undefined,
            pageSize: o.pageSize,
            pageToken,
          });
          more = !o.all && res.nextPageToken !== "";
          return { items: res.auditEvents, next: o.all ? res.nextPageToken : "" };
        });
        if (more) ctx.err("more audit events: --all, or narrow with --since/--until");
        if (ctx.json) {
          ctx.printJson(AuditEventSchema, list);
          return;
        }
        const now = ctx.io.now();
        ctx.out(
          list.length === 0
            ? "no audit events"
            : renderTable(
                ["TIME", "ACTOR", "ACTION", "RESOURCE", "DETAILS"],
                list.map((e) => {
                  const type = e.resource ? enumName(ResourceTypeSchema, e.resource.type) : "";
                  return [
                    when(e.eventTime, now),
                    e.actor?.subject ?? "",
                    e.action,
                    `${type.toLowerCase()}/${e.resource?.id ?? ""}`,
                    pairsText(e.details, " "),
                  ];
                }),
              ),
        );
      }),
    );
}
