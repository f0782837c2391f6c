/** The `lucid-rdp` entry point (bin/lucid-rdp.mjs imports it through tsx). */
import { createInterface } from "node:readline/promises";
import type { CliIo } from "./cli-context.js";
import { runCli } from "./run-cli.js";

const io: CliIo = {
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
  confirm: async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
    } finally {
      rl.close();
    }
  },
  now: () => new Date(),
};

const code = await runCli(process.argv.slice(2), io);
// Exit at once: the HTTP/2 connections of the clients would keep the process up for seconds.
process.stdout.write("", () => process.exit(code));
