import { describe, expect, it } from "vitest";
import type { CliIo } from "../cli-context.js";
import { createProgram } from "../program.js";
import { commandTree } from "./command-tree.js";
import { completionScript } from "./completion-script.js";

const io: CliIo = {
  env: {},
  stdout: () => undefined,
  stderr: () => undefined,
  interactive: false,
  confirm: async () => false,
  now: () => new Date(),
};

describe("commandTree()", () => {
  const tree = commandTree(createProgram(io));
  const at = (path: string) => tree.find((n) => n.path === path);

  it("lists every command with its subcommands", () => {
    expect(at("")?.subcommands.map((s) => s.name)).toEqual([
      "sessions",
      "servers",
      "nodes",
      "alerts",
      "rules",
      "audit",
      "completion",
    ]);
    expect(at("/sessions")?.subcommands.map((s) => s.name)).toEqual([
      "ls",
      "get",
      "create",
      "terminate",
      "watch",
    ]);
    expect(at("/nodes")?.subcommands.map((s) => s.name)).toEqual(["ls", "drain", "undrain"]);
  });

  it("gives each command its own flags and the global ones", () => {
    const flags = at("/sessions/create")?.flags.map((f) => f.flag) ?? [];
    expect(flags).toEqual(
      expect.arrayContaining(["--user", "--wait", "--rdp", "--json", "--token"]),
    );
    expect(at("/sessions/create")?.flags.find((f) => f.flag === "--user")?.takesValue).toBe(true);
    expect(at("/sessions/create")?.flags.find((f) => f.flag === "--wait")?.takesValue).toBe(false);
  });
});

describe("completionScript()", () => {
  const program = createProgram(io);

  it("bash: completes by command path and registers the function", () => {
    const script = completionScript(program, "bash");
    expect(script).toContain('"/sessions") candidates="ls get create terminate watch');
    expect(script).toContain("complete -F _lucid_rdp lucid-rdp");
  });

  it("zsh: loads the bash script through bashcompinit", () => {
    const script = completionScript(program, "zsh");
    expect(script.startsWith("#compdef lucid-rdp\n")).toBe(true);
    expect(script).toContain("bashcompinit");
    expect(script).toContain("complete -F _lucid_rdp lucid-rdp");
  });

  it("fish: one complete line per subcommand and flag, quoted", () => {
    const script = completionScript(program, "fish");
    expect(script).toContain(
      "complete -c lucid-rdp -n '__lucid_rdp_at \\'/nodes\\'' -a drain -d 'stop placing new servers on a node; its servers live on'",
    );
    expect(script).toContain("-l user -x");
    expect(script).not.toMatch(/-d '[^']*[^\\]'[^']*'$/m);
  });
});
