/**
 * The browser console's test fixture, shared by test/console*.test.ts: a real mesh (one door
 * node with a warm desktop, session-controller serving the console built as `npm start` builds
 * it, resource-monitor) and Debian's chromium driven by playwright-core (no browser download).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  findTool,
  type Mesh,
  MissingToolError,
  repoRoot,
  reportMissingTool,
  startMesh,
} from "@lucid-rdp/testing";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { buildConsole } from "../../scripts/build-console.js";

const chromiumHint = "apt-get install -y chromium";

/** Where the console tests save their screenshots (git-ignored). */
export const artifacts = join(repoRoot, "test-results");

/** A running console: its mesh, its URL, the page and what the page reported as errors. */
export interface ConsoleFixture {
  readonly mesh: Mesh;
  readonly consoleUrl: string;
  readonly page: Page;
  readonly browser: BrowserContext;
  /** Page errors, console.error lines, failed requests and native dialogs seen so far. */
  readonly pageErrors: string[];
}

/**
 * Starts the mesh and the browser (`sessionControllerEnv` added to session-controller's env);
 * resolves to the fixture, or to the reason it was skipped
 * (chromium or a mesh tool missing: reported, and a failure under CI=true).
 */
export async function startConsoleFixture(
  dirs: string[],
  opts: { sessionControllerEnv?: Record<string, string> } = {},
): Promise<ConsoleFixture | { skipReason: string }> {
  const chromiumBin = findTool("chromium", chromiumHint);
  if (chromiumBin === undefined) {
    reportMissingTool("chromium", chromiumHint, "the browser console");
    return { skipReason: "chromium" };
  }
  const consoleDir = mkdtempSync(join(tmpdir(), "lucid-console-"));
  dirs.push(consoleDir);
  await buildConsole(consoleDir);
  let mesh: Mesh;
  try {
    mesh = await startMesh({
      sessionController: true,
      resourceMonitor: true,
      env: { CONSOLE_DIR: consoleDir },
      // The node as a user runs it: every RDP client through its front door, one warm desktop.
      nodeEnv: () => ({ RDP_DOOR: "on", WARM_POOL_SIZE: "1" }),
    });
  } catch (e) {
    if (e instanceof MissingToolError) {
      process.stderr.write(`\n!!! SKIPPED the browser console: ${e.message}\n\n`);
      return { skipReason: e.message };
    }
    throw e;
  }
  // resource-monitor starts after session-controller (it watches a node that reports to
  // session-controller), so session-controller learns where it is on a restart.
  const rm = mesh.resourceMonitors[0];
  if (rm === undefined) throw new Error("the mesh started no resource-monitor");
  const sc = await mesh.restartSessionController(0, {
    env: { ...opts.sessionControllerEnv, CONSOLE_RESOURCE_MONITOR_URL: rm.url },
  });

  const profile = mkdtempSync(join(tmpdir(), "lucid-chromium-"));
  dirs.push(profile);
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumBin,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console.error: ${m.text()}`);
  });
  // Confirmations are the page's own <dialog>: a native alert/confirm/prompt is an error.
  page.on("dialog", (d) => {
    pageErrors.push(`native ${d.type()} dialog: ${d.message()}`);
    void d.dismiss();
  });
  // Which call a "Failed to load resource" line was about.
  page.on("response", (r) => {
    if (r.status() >= 400)
      pageErrors.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  mkdirSync(artifacts, { recursive: true });
  return { mesh, consoleUrl: `${sc.url}/console`, page, browser, pageErrors };
}

/** Closes the browser and the mesh and removes the temporary directories. */
export async function closeConsoleFixture(
  f: ConsoleFixture | undefined,
  dirs: string[],
): Promise<void> {
  await f?.browser.close();
  await f?.mesh.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
