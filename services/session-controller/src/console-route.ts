/**
 * The browser console at /console: three static files built by `tsx scripts/build-console.ts`
 * (index.html, app.js, style.css) and /console/config.json, which tells the page where
 * server-manager and resource-monitor answer. The page calls all three services itself with
 * Connect over fetch; the other two allow this origin through CORS (CORS_ALLOWED_ORIGINS, local
 * origins by default on loopback).
 *
 * Only the fixed file names below are served, so no request path ever reaches the file system.
 * The page is public (it holds no data); the RPCs it makes carry the bearer token the user pastes
 * in, and answer only what that token's roles allow.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { HttpHandler } from "@lucid-rdp/runtime";
import type { ConsoleConfig } from "./config.js";

const files: Readonly<Record<string, { name: string; type: string }>> = {
  "/console": { name: "index.html", type: "text/html; charset=utf-8" },
  "/console/": { name: "index.html", type: "text/html; charset=utf-8" },
  "/console/app.js": { name: "app.js", type: "text/javascript; charset=utf-8" },
  "/console/style.css": { name: "style.css", type: "text/css; charset=utf-8" },
};

/** What /console/config.json tells the page. */
export interface ConsolePageConfig {
  /** Where the page finds server-manager; absent: the servers and nodes panels say so. */
  readonly serverManagerUrl?: string;
  /** Where the page finds resource-monitor; absent: the charts and alerts panels say so. */
  readonly resourceMonitorUrl?: string;
  /** Whether the RPCs need a bearer token (the page then asks for one). */
  readonly authRequired: boolean;
}

export function consoleRoute(cfg: ConsoleConfig, authRequired: boolean): HttpHandler {
  const page: ConsolePageConfig = {
    serverManagerUrl: cfg.serverManagerUrl,
    resourceMonitorUrl: cfg.resourceMonitorUrl,
    authRequired,
  };
  const origins = [cfg.serverManagerUrl, cfg.resourceMonitorUrl]
    .filter((u): u is string => u !== undefined)
    .map((u) => new URL(u).origin);
  const headers = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    // No inline script or style anywhere: the page loads only its own files and calls only the
    // three services.
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self' ${origins.join(" ")}`.trim(),
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  };
  return async (req, res) => {
    const path = (req.url ?? "").split("?")[0] ?? "";
    if (!path.startsWith("/console") || (req.method !== "GET" && req.method !== "HEAD")) {
      return false;
    }
    if (path === "/console/config.json") {
      res.writeHead(200, { ...headers, "content-type": "application/json" });
      if (req.method === "HEAD") res.end();
      else res.end(JSON.stringify(page));
      return true;
    }
    const file = files[path];
    if (file === undefined) return false;
    // app.js is served from its gzip twin (written by the build) to browsers that accept it.
    const gzip = file.name === "app.js" && /\bgzip\b/.test(String(req.headers["accept-encoding"]));
    let body: Buffer;
    try {
      body = await readFile(join(cfg.dir, gzip ? `${file.name}.gz` : file.name));
    } catch {
      res.writeHead(503, {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(
        `The console is not built in ${cfg.dir}: run \`npm run build:console\` (npm start does), or set CONSOLE_DIR to a built console.\n`,
      );
      return true;
    }
    res.writeHead(200, {
      ...headers,
      "content-type": file.type,
      "content-length": body.length,
      vary: "accept-encoding",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    if (req.method === "HEAD") res.end();
    else res.end(body);
    return true;
  };
}

/** Serves the first handler that answers. */
export function firstOf(...handlers: HttpHandler[]): HttpHandler {
  return async (req, res) => {
    for (const h of handlers) if (await h(req, res)) return true;
    return false;
  };
}
