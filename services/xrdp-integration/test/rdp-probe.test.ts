/**
 * The RDP probe against real xrdp (Debian 12: 0.9.21): it finds the server ready, reports the
 * protocol xrdp selects, and leaves no ERROR line in xrdp's log, however often it probes.
 */
import { readFile } from "node:fs/promises";
import { listChildren } from "@lucid-rdp/proc";
import { skipOrFail, waitFor } from "@lucid-rdp/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeRdp, probeUntilReady } from "../src/host/rdp-probe.js";
import { installXrdp, startTlsXrdp, type TlsXrdp } from "./support/tls-xrdp.js";

describe("probeRdp() against real xrdp with security_layer=tls", () => {
  let xrdp: TlsXrdp | undefined;

  beforeAll(async () => {
    xrdp = await startTlsXrdp("xrdp-probe-");
  });

  afterAll(async () => {
    await xrdp?.stop();
  });

  it("finds it ready, then probes it 5 times without an ERROR line in its log", async (ctx) => {
    if (xrdp === undefined) {
      skipOrFail(ctx, `xrdp, openssl or /etc/xrdp/xrdp.ini missing: ${installXrdp}`);
    }
    const { port, log } = xrdp;
    const ready = await probeUntilReady("127.0.0.1", port, { deadlineMs: 15_000, intervalMs: 100 });
    expect(ready, `xrdp output:\n${xrdp.output()}`).toEqual({ ok: true, selectedProtocol: "tls" });
    for (let i = 0; i < 5; i++) {
      expect(await probeRdp("127.0.0.1", port, { timeoutMs: 5_000 })).toEqual(ready);
    }
    // Each connection has a child process of its own, which logs until it exits.
    const alive = () => listChildren(xrdp?.pid ?? 0).filter((child) => child.state !== "Z");
    await waitFor("every probe child gone", () => alive().length === 0, {
      until: (gone) => gone,
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    const text = await readFile(log, "utf8");
    expect(text.match(/connection (received|accepted) from/g), text).toHaveLength(6);
    expect(
      text.split("\n").filter((line) => line.includes("[ERROR]")),
      text,
    ).toEqual([]);
  });
});
