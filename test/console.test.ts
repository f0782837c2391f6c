/**
 * The browser console, in a real browser against a real mesh: Debian's chromium driven by
 * playwright-core (no browser download), the console built with esbuild as `npm start` builds it,
 * served by session-controller, talking Connect over HTTP/1.1 to session-controller,
 * server-manager (cross-origin, CORS) and resource-monitor (cross-origin, CORS).
 *
 * The screenshots land in test-results/ (git-ignored): console-ready.png with a READY session,
 * console-terminated.png after it ended.
 */

import { randomUUID } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AlertMetric, Comparison, SessionState, Severity } from "@lucid-rdp/gen";
import { type Mesh, type SkipContext, skipOrFail } from "@lucid-rdp/testing";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  artifacts,
  type ConsoleFixture,
  closeConsoleFixture,
  startConsoleFixture,
} from "./support/console-fixture.js";

describe("the browser console in Debian's chromium", () => {
  let fixture: ConsoleFixture | undefined;
  let mesh: Mesh | undefined;
  let page: Page;
  let consoleUrl = "";
  let skipReason: string | undefined;
  let pageErrors: string[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    const f = await startConsoleFixture(dirs);
    if ("skipReason" in f) {
      skipReason = f.skipReason;
      return;
    }
    fixture = f;
    ({ mesh, page, consoleUrl, pageErrors } = f);
  }, 180_000);

  afterAll(async () => {
    await closeConsoleFixture(fixture, dirs);
  }, 60_000);

  // A missing chromium or mesh tool skips with a loud line, and fails under CI=true.
  const ready = (ctx: SkipContext) => {
    if (skipReason !== undefined) skipOrFail(ctx, skipReason);
    return mesh as Mesh;
  };

  it("opens with every live link up: sessions, servers, metrics, alerts", async (ctx) => {
    const m = ready(ctx);
    await page.goto(consoleUrl);
    for (const link of ["sessions", "servers", "metrics", "alerts"]) {
      await page
        .locator(`li[data-link="${link}"][data-state="live"]`)
        .waitFor({ timeout: 20_000 })
        .catch((e: unknown) => {
          throw new Error(`link ${link} never went live: ${String(e)}\n${m.logs(20)}`);
        });
    }
    // Nodes come from server-manager, the host charts from resource-monitor's WatchMetrics.
    await expect
      .poll(() => page.locator('tr[data-node-id="node-1"]').textContent(), { timeout: 15_000 })
      .toContain("HEALTHY");
    const nodeRow = page.locator('tr[data-node-id="node-1"]');
    await expect.poll(() => nodeRow.textContent(), { timeout: 15_000 }).toContain("1 / 1 ready");
    expect(await nodeRow.textContent()).toMatch(/door :\d+/);
    await expect
      .poll(() => page.locator("#cpu-value").textContent(), { timeout: 15_000 })
      .toMatch(/^\d+\.\d%$/);
    await expect
      .poll(() => page.locator("#cpu-chart path.line").getAttribute("d"), { timeout: 15_000 })
      .toMatch(/^M[\d.]+,[\d.]+L/); // at least two samples drawn
    expect(await page.locator("#mem-detail").textContent()).toMatch(/ of .* used$/);
    // No token form on loopback without auth.
    expect(await page.locator("#token-form").isVisible()).toBe(false);
  }, 60_000);

  it("creates a session that appears and turns READY live, downloads its .rdp, terminates it", async (ctx) => {
    const m = ready(ctx);
    // A page reload would lose this marker: the row must change without one. The observer records
    // each state every session row shows (in the page, as plain JS: the tests have no DOM types).
    await page.evaluate(`
      window.marker = 42;
      window.seen = [];
      const tbody = document.querySelector("#sessions tbody");
      new MutationObserver(() => {
        for (const tr of tbody.querySelectorAll("tr[data-session-id]")) {
          const entry = tr.dataset.sessionId + "=" + tr.dataset.state;
          if (!window.seen.includes(entry)) window.seen.push(entry);
        }
      }).observe(tbody, { childList: true });
    `);
    const user = `browser-${randomUUID().slice(0, 8)}`;
    await page.fill("#create-user", user);
    await page.click("#create-button");
    const row = page.locator("#sessions tbody tr", { hasText: user });
    await row.waitFor({ timeout: 15_000 });
    const id = (await row.getAttribute("data-session-id")) ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await page
      .locator(`tr[data-session-id="${id}"][data-state="READY"]`)
      .waitFor({ timeout: 90_000 })
      .catch((e: unknown) => {
        throw new Error(`the session never showed READY: ${String(e)}\n${m.logs(30)}`);
      });
    expect(await page.evaluate("window.marker")).toBe(42);
    const seen = ((await page.evaluate("window.seen")) as string[])
      .filter((e) => e.startsWith(`${id}=`))
      .map((e) => e.slice(id.length + 1));
    // Shown first before it was ready (PENDING or PROVISIONING), then READY, in the same page.
    expect(seen.length, seen.join(" ")).toBeGreaterThan(1);
    expect(["PENDING", "PROVISIONING"]).toContain(seen[0]);
    expect(seen).toContain("READY");

    // What the page shows is what the service holds.
    const { session } = await m.sessionController().getSession({ sessionId: id });
    expect(session?.state).toBe(SessionState.READY);
    const ep = session?.connectInfo?.endpoint;
    expect(await row.textContent()).toContain(`${ep?.host}:${ep?.port}`);
    await page
      .locator(`#servers tr[data-server-id="${session?.serverId}"][data-state="READY"]`)
      .waitFor({ timeout: 15_000 });
    await page.screenshot({ path: join(artifacts, "console-ready.png"), fullPage: true });

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.locator('button[data-action="download"]').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`session-${id}.rdp`);
    const saved = join(artifacts, `session-${id}.rdp`);
    await download.saveAs(saved);
    expect(readFileSync(saved, "utf8")).toContain(`full address:s:${ep?.host}:${ep?.port}`);
    // Behind the door the file carries the session's routing token.
    expect(session?.connectInfo?.routingToken).toMatch(/^lr1-/);
    expect(readFileSync(saved, "utf8")).toContain(
      `loadbalanceinfo:s:${session?.connectInfo?.routingToken}`,
    );
    rmSync(saved, { force: true });

    // Terminate asks first, in the page's own dialog.
    await row.locator('button[data-action="terminate"]').click();
    await page.locator("#confirm-dialog[open]").waitFor({ timeout: 5_000 });
    await page.click("#confirm-ok");
    await page
      .locator(`tr[data-session-id="${id}"][data-state="TERMINATED"]`)
      .waitFor({ timeout: 60_000 });
    // An ended session offers no .rdp file and no Terminate any more.
    const ended = page.locator(`tr[data-session-id="${id}"]`);
    expect(await ended.locator('button[data-action="download"]').count()).toBe(0);
    expect(await ended.locator('button[data-action="terminate"]').count()).toBe(0);
    const after = await m.sessionController().getSession({ sessionId: id });
    expect(after.session?.state).toBe(SessionState.TERMINATED);
    expect(await page.evaluate("window.marker")).toBe(42);
    await page.screenshot({ path: join(artifacts, "console-terminated.png"), fullPage: true });
  }, 180_000);

  it("shows an alert as it fires, without a reload", async (ctx) => {
    const m = ready(ctx);
    const { alertRule } = await m.resourceMonitor().createAlertRule({
      requestId: randomUUID(),
      alertRule: {
        displayName: "console test: host has processes",
        metric: AlertMetric.HOST_CPU_USAGE_PERCENT,
        comparison: Comparison.GREATER_THAN_OR_EQUAL,
        threshold: 0,
        severity: Severity.WARNING,
        summary: "console test alert",
      },
    });
    const li = page.locator(`#alerts li[data-state="FIRING"]`, { hasText: "console test alert" });
    await li.waitFor({ timeout: 30_000 }).catch((e: unknown) => {
      throw new Error(`the alert never showed FIRING: ${String(e)}\n${m.logs(20)}`);
    });
    await m.resourceMonitor().deleteAlertRule({ alertRuleId: alertRule?.id ?? "" });
  }, 60_000);

  it("raised no page error and no console error", (ctx) => {
    ready(ctx);
    expect(pageErrors).toEqual([]);
  });
});
