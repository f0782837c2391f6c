/** `lucid-rdp nodes ls | drain NODE | undrain NODE`. */
import { type Node, NodeSchema } from "@lucid-rdp/gen";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { action, allPages, type CommandDeps } from "../command-kit.js";
import { nodeTable } from "../format/server-view.js";

/** Adds `nodes` and its subcommands to `program`. */
export function registerNodes(program: Command, deps: CommandDeps): void {
  const nodes = program.command("nodes").description("hosts running xrdp-integration");
  nodes
    .command("ls")
    .description("list nodes with health, capacity, port range and warm pool")
    .action(
      action(deps, async (ctx) => {
        const client = ctx.servers();
        const list = await allPages(async (pageToken) => {
          const res = await client.listNodes({ pageToken, pageSize: 1000 });
          return { items: res.nodes, next: res.nextPageToken };
        });
        if (ctx.json) ctx.printJson(NodeSchema, list);
        else ctx.out(list.length === 0 ? "no nodes" : nodeTable(list, ctx.io.now()));
      }),
    );
  const show = (ctx: CliContext, node: Node | undefined) => {
    if (node === undefined) return;
    if (ctx.json) ctx.printJson(NodeSchema, node);
    else ctx.out(nodeTable([node], ctx.io.now()));
  };
  nodes
    .command("drain")
    .description("stop placing new servers on a node; its servers live on")
    .argument("<node>", "the node's id")
    .action(
      action(deps, async (ctx, [id]) => {
        show(ctx, (await ctx.servers().drainNode({ nodeId: id })).node);
      }),
    );
  nodes
    .command("undrain")
    .description("let a drained node receive new servers again")
    .argument("<node>", "the node's id")
    .action(
      action(deps, async (ctx, [id]) => {
        show(ctx, (await ctx.servers().undrainNode({ nodeId: id })).node);
      }),
    );
}
