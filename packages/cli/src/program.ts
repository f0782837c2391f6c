/** The `lucid-rdp` command tree: global flags and every command. */
import { Command } from "commander";
import type { CliIo } from "./cli-context.js";
import type { ProgramRun } from "./command-kit.js";
import { registerAlerts } from "./commands/alerts.js";
import { registerAudit } from "./commands/audit.js";
import { registerCompletion } from "./commands/completion.js";
import { registerNodes } from "./commands/nodes.js";
import { registerRules } from "./commands/rules.js";
import { registerServers } from "./commands/servers.js";
import { registerSessions } from "./commands/sessions.js";
import { endpointSources } from "./endpoints.js";
import { parseDuration } from "./parse/parse-duration.js";

/** The CLI's version, shown by --version. */
export const cliVersion = "0.1.0";

const envHelp = `
Environment:
  ${Object.values(endpointSources)
    .map((s) => `${s.env.padEnd(30)} ${s.name} URL (default ${s.url})`)
    .join("\n  ")}
  ${"LUCID_TOKEN".padEnd(30)} bearer token sent on every call (or --token)
  ${"NO_COLOR".padEnd(30)} plain output without colours

Exit codes: 0 ok; 1 other failure (a --wait ended FAILED); 2 bad usage; otherwise the gRPC code
(3 INVALID_ARGUMENT, 5 NOT_FOUND, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...).`;

/**
 * The program, writing through `io`; commander's own errors are thrown (exitOverride) so the
 * caller decides the exit code. `run` records the context of the command that ran.
 */
export function createProgram(io: CliIo, run: ProgramRun = {}): Command {
  const program = new Command("lucid-rdp")
    .description("Operate a Lucid RDP control plane: sessions, servers, nodes, alerts and audit.")
    .version(cliVersion)
    .option("--json", "print protobuf JSON instead of tables (watches: one object a line)")
    .option("--token <token>", "bearer token (default: $LUCID_TOKEN)")
    .option("--session-controller <url>", "session-controller URL")
    .option("--server-manager <url>", "server-manager URL")
    .option("--resource-monitor <url>", "resource-monitor URL")
    .option("--timeout <duration>", "deadline of each call (default 30s)", parseDuration)
    .option("--no-color", "plain output without colours")
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", envHelp);
  const deps = { io, run };
  registerSessions(program, deps);
  registerServers(program, deps);
  registerNodes(program, deps);
  registerAlerts(program, deps);
  registerRules(program, deps);
  registerAudit(program, deps);
  registerCompletion(program, deps);
  return program;
}
