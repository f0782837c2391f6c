import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsolePageConfig, consoleRoute } from "./console-route.js";

describe("consoleRoute", () => {
  const built = mkdtempSync(join(tmpdir(), "console-route-"));
  const servers: Server[] = [];
  let builtUrl = "";
  let missingUrl = "";

  const serve = async (dir: string, authRequired: boolean) => {
    const handler = consoleRoute(
      {
        dir,
        serverManagerUrl: "http://127.0.0.1:8081",
        resourceMonitorUrl: "http://monitor.internal:8090/",
      },
      authRequired,
    );
    const server = createServer((req, res) => {
      void Promise.resolve(handler(req, res)).then((answered) => {
        if (!answered) {
          res.writeHead(404);
          res.end("not mine");
        }
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    writeFileSync(join(built, "index.html"), "<!doctype html><title>x</title>");
    writeFileSync(join(built, "app.js"), "console.log('plain')");
    writeFileSync(join(built, "app.js.gz"), gzipSync("console.log('gzipped')"));
    writeFileSync(join(built, "style.css"), "body{}");
    builtUrl = await serve(built, true);
    missingUrl = await serve(join(built, "nope"), false);
  });
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(built, { recursive: true, force: true });
  });

  it("tells the page where the other services are and whether it needs a token", async () => {
    const res = await fetch(`${builtUrl}/console/config.json`);
    expect(res.status).toBe(200);
    expect((await res.json()) as ConsolePageConfig).toEqual({
      serverManagerUrl: "http://127.0.0.1:8081",
      resourceMonitorUrl: "http://monitor.internal:8090/",
      authRequired: true,
    });
  });

  it("serves the page at /console and /console/ with a CSP that allows only the three services", async () => {
    for (const path of ["/console", "/console/"]) {
      const res = await fetch(`${builtUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(await res.text()).toContain("<title>x</title>");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain(
        "connect-src 'self' http://127.0.0.1:8081 http://monitor.internal:8090",
      );
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("serves app.js gzipped to clients that accept it, plain to the others, and HEAD without a body", async () => {
    const gz = await fetch(`${builtUrl}/console/app.js`); // fetch sends accept-encoding: gzip
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(await gz.text()).toBe("console.log('gzipped')");
    const plain = await fetch(`${builtUrl}/console/app.js`, {
      headers: { "accept-encoding": "identity" },
    });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe("console.log('plain')");
    const head = await fetch(`${builtUrl}/console/style.css`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(await head.text()).toBe("");
  });

  it("answers only its fixed files: other paths and methods fall through", async () => {
    for (const path of [
      "/console/app.js.gz",
      "/console/../package.json",
      "/console/x.js",
      "/consolex",
    ]) {
      const res = await fetch(`${builtUrl}${path}`);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toBe("not mine");
    }
    const post = await fetch(`${builtUrl}/console`, { method: "POST", body: "x" });
    expect(post.status).toBe(404);
  });

  it("says how to build the console when it is not built", async () => {
    const res = await fetch(`${missingUrl}/console`);
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("npm run build:console");
    // config.json still answers: it comes from the env, not the build.
    expect((await fetch(`${missingUrl}/console/config.json`)).status).toBe(200);
  });
});
