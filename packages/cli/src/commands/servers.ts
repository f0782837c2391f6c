/** `lucid-rdp servers ls | get`. */
import { ServerSchema, type ServerState, ServerStateSchema } from "@lucid-rdp/gen";
import { type Command, Option } from "commander";
import { action, allPages, type CommandDeps, repeatable } from "../command-kit.js";
import { serverDetails, serverTable } from "../format/server-view.js";
import { enumChoices, parseEnum } from "../parse/parse-enum.js";
import { intIn } from "../parse/parse-int.js";

interface LsOptions {
  node?: string;
  owner?: string;
  state?: ServerState[];
  pageSize?: number;
  all?: boolean;
}

/** Adds `servers` and its subcommands to `program`. */
export function registerServers(program: Command, deps: CommandDeps): void {
  const servers = program.command("servers").description("RDP servers on the nodes");
  servers
    .command("ls")
    .description("list servers, newest first")
    .option("--node <node>", "only servers on this node")
    .option("--owner <user>", "only servers of this owner")
    .addOption(
      new Option(
        "--state <state>",
        `only servers in this state, repeatable: ${enumChoices(ServerStateSchema).join(", ")}`,
      ).argParser(repeatable((t) => parseEnum(ServerStateSchema, t) as ServerState)),
    )
    .option("--page-size <n>", "servers per page (1-1000, default 50)", intIn(1, 1000))
    .option("--all", "read every page")
    .action(
      action<LsOptions>(deps, async (ctx, _args, o) => {
        const client = ctx.servers();
        let more = false;
        const list = await allPages(async (pageToken) => {
          const res = await client.listServers({
            nodeId: o.node,
            owner: o.owner,
            states: o.state,
            pageSize: o.pageSize,
            pageToken,
          });
          more = !o.all && res.nextPageToken !== "";
          return { items: res.servers, next: o.all ? res.nextPageToken : "" };
        });
        if (ctx.json) ctx.printJson(ServerSchema, list);
        else ctx.out(list.length === 0 ? "no servers" : serverTable(list, ctx.io.now()));
        if (more) ctx.err("more servers: --all");
      }),
    );
  servers
    .command("get")
    .description("show one server, with its CPU and memory when known")
    .argument("<id>", "the server's id")
    .action(
      action(deps, async (ctx, [id]) => {
        const { server } = await ctx.servers().getServer({ serverId: id });
        if (server === undefined) return;
        if (ctx.json) ctx.printJson(ServerSchema, server);
        else ctx.out(serverDetails(server, ctx.io.now()));
      }),
    );
}
