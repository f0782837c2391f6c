/** The host's xrdp-sesman, run and stopped by the service (real xrdp-sesman). */
import { mkdtempSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@lucid-rdp/runtime";
import { describe, expect, it } from "vitest";
import { findTool } from "../../../packages/runtime/test/support/tools.js";
import { buildPolicy } from "../src/domain/policy.js";
import { findProcesses } from "../src/host/proc-stat.js";
import { SesmanSupervisor } from "../src/supervisor/sesman.js";

const sesmanBin = findTool("xrdp-sesman", "apt-get install -y xrdp");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** xrdp-sesman 0.9 binds ListenAddress=127.0.0.1 as ::1 where IPv6 is on: try both. */
async function answers(port: number): Promise<boolean> {
  return (await answersOn(port, "127.0.0.1")) || (await answersOn(port, "::1"));
}

function answersOn(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

describe("SesmanSupervisor", () => {
  it("runs xrdp-sesman with its rendered config and stops it without leftovers", async (ctx) => {
    if (sesmanBin === undefined) {
      ctx.skip();
      return;
    }
    const stateDir = mkdtempSync(join(tmpdir(), "sesman-"));
    const port = await freePort();
    const { defaults } = buildPolicy({ allowRdpSecurity: false, allowRootLogin: false });
    const sesman = new SesmanSupervisor({
      bin: sesmanBin,
      stateDir,
      settings: defaults,
      logger: createLogger({ service: "test", level: "silent" }),
      listenPort: port,
    });
    await sesman.start();
    const deadline = Date.now() + 10_000;
    while (!(await answers(port)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await answers(port)).toBe(true);
    expect(sesman.status().running).toBe(true);
    await sesman.stop();
    expect(await answers(port)).toBe(false);
    expect(findProcesses((p) => p.cmdline.some((a) => a.startsWith(`${stateDir}/`)))).toEqual([]);
  });
});
