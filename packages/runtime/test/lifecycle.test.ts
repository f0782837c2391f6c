/**
 * The runtime as a real process, composed like a service's main.ts: config errors exit 2 naming
 * the variable, a non-loopback bind without auth refuses to start, and SIGTERM drains in-flight
 * calls while refusing new ones. Also health going NOT_SERVING when shutdown begins.
 */
import { type AddressInfo, createServer } from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { describe, expect, it, vi } from "vitest";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../src/gen/grpc/health/v1/health_pb.js";
import { EchoService } from "./support/echo-service.js";
import { runEchoExpectingExit, spawnEcho, startEcho } from "./support/harness.js";
import { readMetric } from "./support/read-metric.js";

/** Resolves once the server has started a Slow call (grpc_server_started_total). */
function arrived(url: string): Promise<void> {
  return vi.waitFor(
    async () =>
      expect(
        await readMetric(url, "grpc_server_started_total", { grpc_method: "Slow" }),
      ).toBeGreaterThan(0),
    { timeout: 10_000, interval: 20 },
  );
}

describe("service process", () => {
  describe("config", () => {
    it.each([
      ["PORT", "eighty", /PORT="eighty" is not valid: expected an integer from 0 to 65535/],
      ["PORT", "70000", /PORT="70000"/],
      ["LOG_LEVEL", "loud", /LOG_LEVEL="loud" is not valid: expected one of trace, debug/],
      ["DEBUG", "maybe", /DEBUG="maybe" is not valid: expected true or false/],
      ["SHUTDOWN_GRACE_MS", "-1", /SHUTDOWN_GRACE_MS/],
      ["CORS_ALLOWED_ORIGINS", "not a url", /CORS_ALLOWED_ORIGINS/],
      ["AUTH_JWT_SECRET", "short", /AUTH_JWT_SECRET: at least 32 characters/],
      ["TLS_CERT", "/nonexistent.pem", /TLS_CERT/],
      ["CORS_ALLOWED_ORIGINS", "https://a.example/path", /CORS_ALLOWED_ORIGINS/],
    ])("exits 2 naming %s when it is %j", async (name, value, message) => {
      const { code, stderr } = await runEchoExpectingExit({ [name]: value });
      expect(code).toBe(2);
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toMatch(message);
      expect(stderr).not.toContain("short"); // secrets are never echoed
    });

    it("exits 2 naming TLS_CERT when the files are not a certificate and key", async () => {
      const { code, stderr } = await runEchoExpectingExit({
        TLS_CERT: "/etc/hostname",
        TLS_KEY: "/etc/hostname",
      });
      expect(code).toBe(2);
      expect(stderr).toMatch(/^config error: TLS_CERT: a PEM certificate/);
    });

    it("exits 1 with one line naming PORT when its port is taken, no stack trace", async () => {
      const holder = createServer();
      await new Promise<void>((r) => holder.listen(0, "127.0.0.1", r));
      const port = (holder.address() as AddressInfo).port;
      try {
        const { code, stderr } = await runEchoExpectingExit({ PORT: String(port) });
        expect(code).toBe(1);
        expect(stderr.trim().split("\n")).toEqual([
          `port ${port} on 127.0.0.1 is already in use (another copy of this service, or another program): stop it, or set PORT to another port`,
        ]);
      } finally {
        holder.close();
      }
    });

    it("refuses a non-loopback HOST without auth, naming the way out", async () => {
      const { code, stderr } = await runEchoExpectingExit({ HOST: "0.0.0.0" });
      expect(code).toBe(2);
      expect(stderr).toContain("HOST");
      expect(stderr).toContain("AUTH_JWT_SECRET");
      expect(stderr).toContain("AUTH_DISABLED=true");
    });

    it("starts on a non-loopback HOST when AUTH_DISABLED=true says so explicitly", async () => {
      const s = await spawnEcho({ HOST: "0.0.0.0", AUTH_DISABLED: "true" });
      s.kill("SIGTERM");
      expect(await s.exited).toBe(0);
    });
  });

  describe("SIGTERM", () => {
    it("lets calls in flight complete, refuses new ones, and exits 0", async () => {
      const s = await spawnEcho({ SHUTDOWN_GRACE_MS: "10000" });
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: s.url }));
      const inFlight = client.slow({ delayMs: 1500 });
      // Not a fixed pause: on a loaded machine the call may not have arrived after one.
      await arrived(s.url);
      s.kill("SIGTERM");
      await vi.waitFor(() => expect(s.stdout.some((l) => l.includes("shutting down"))).toBe(true));
      // A new connection is refused: the listener is closed.
      const fresh = createClient(EchoService, createGrpcTransport({ baseUrl: s.url }));
      const refused = await fresh.echo({ message: "late" }).catch((e: unknown) => e);
      expect(ConnectError.from(refused).code).toBe(Code.Unavailable);
      // A new stream on the old connection is refused too (GOAWAY was sent).
      const again = await client.echo({ message: "late" }).catch((e: unknown) => e);
      expect(ConnectError.from(again).code).toBe(Code.Unavailable);
      const done = await inFlight;
      expect(done.waitedMs).toBeGreaterThanOrEqual(1400);
      expect(await s.exited).toBe(0);
      expect(s.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    });

    it("finishes its onShutdown work before exiting, even when nothing else keeps Node up", async () => {
      const s = await spawnEcho({ ECHO_SHUTDOWN_WORK_MS: "500" });
      s.kill("SIGTERM");
      expect(await s.exited).toBe(0);
      expect(s.stdout.some((l) => l.includes('"msg":"shutdown work done"'))).toBe(true);
      expect(s.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    });

    it("survives connect-node's late GOAWAY error (connect-es#1768) and still serves", async () => {
      const s = await spawnEcho({ ECHO_UNCAUGHT: "goaway" });
      await vi.waitFor(() => expect(s.stdout.some((l) => l.includes("GOAWAY"))).toBe(true), {
        timeout: 10_000,
      });
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: s.url }));
      expect((await client.echo({ message: "still here" })).message).toBe("still here");
      expect(s.stdout.some((l) => l.includes('"level":"fatal"') || l.includes('"level":60'))).toBe(
        false,
      );
      s.kill("SIGTERM");
      expect(await s.exited).toBe(0);
    });

    it("exits 1 on any other uncaught error, after logging it", async () => {
      const s = await spawnEcho({ ECHO_UNCAUGHT: "other" });
      expect(await s.exited).toBe(1);
      expect(s.stdout.some((l) => l.includes("uncaught exception: exiting"))).toBe(true);
    });

    it("cancels calls still running when the grace time is over", async () => {
      const s = await spawnEcho({ SHUTDOWN_GRACE_MS: "200" });
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: s.url }));
      const inFlight = client.slow({ delayMs: 30_000 }).catch((e: unknown) => e);
      await arrived(s.url);
      s.kill("SIGTERM");
      const err = ConnectError.from(await inFlight);
      expect([Code.Unavailable, Code.Canceled, Code.Internal]).toContain(err.code);
      expect(await s.exited).toBe(0);
    });
  });

  describe("health during shutdown", () => {
    it("turns NOT_SERVING on Watch and in the report as soon as shutdown begins", async () => {
      const server = await startEcho({ SHUTDOWN_GRACE_MS: "2000" });
      const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.url }));
      const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
      const seen: ServingStatus[] = [];
      // A Watch cut short by shutdown ends UNAVAILABLE (the client retries elsewhere), not OK.
      const watching = (async () => {
        for await (const r of health.watch({ service: "lucid.rdp.testing.v1.EchoService" })) {
          seen.push(r.status);
        }
      })().then(
        () => "OK",
        (e: unknown) => Code[ConnectError.from(e).code],
      );
      await new Promise((r) => setTimeout(r, 100));
      // Keep a call in flight so the server is still answering while it drains.
      const slow = client.slow({ delayMs: 800 });
      await new Promise((r) => setTimeout(r, 100));
      const stopping = server.shutdown();
      expect(server.health.report().status).toBe("NOT_SERVING");
      await slow;
      expect(await watching).toBe("Unavailable");
      await stopping;
      expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    });

    it("answers Watch of an unknown service with SERVICE_UNKNOWN", async () => {
      const server = await startEcho();
      const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
      const ac = new AbortController();
      const seen: ServingStatus[] = [];
      try {
        for await (const r of health.watch({ service: "no.Such" }, { signal: ac.signal })) {
          seen.push(r.status);
          ac.abort();
        }
      } catch (e) {
        expect(ConnectError.from(e).code).toBe(Code.Canceled);
      }
      expect(seen).toEqual([ServingStatus.SERVICE_UNKNOWN]);
      await server.shutdown();
    });
  });

  describe("dependency checks", () => {
    it("drive Check, /health and /readyz both ways", async () => {
      let redisUp = false;
      const server = await startEcho(
        { HEALTH_CHECK_INTERVAL_MS: "100" },
        {
          checks: [
            {
              name: "redis",
              check: async () => {
                if (!redisUp) throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
              },
            },
          ],
        },
      );
      const health = createClient(Health, createGrpcTransport({ baseUrl: server.url }));
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
      const down = await fetch(`${server.url}/health`);
      expect(down.status).toBe(503);
      const body = (await down.json()) as { status: string; checks: Record<string, object> };
      expect(body).toMatchObject({ status: "NOT_SERVING", checks: { redis: { ok: false } } });
      // The reason is shown by default (DEBUG off), the log has it too.
      expect(body.checks.redis).toMatchObject({ error: "connect ECONNREFUSED 127.0.0.1:6379" });
      expect(JSON.stringify(server.logs)).toContain("connect ECONNREFUSED 127.0.0.1:6379");
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.url}/livez`)).status).toBe(200);
      redisUp = true;
      await server.health.runChecks();
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      await server.shutdown();
    });

    it("show a failing check's reason in /health without credentials or stack", async () => {
      const server = await startEcho(
        { HEALTH_CHECK_INTERVAL_MS: "600000" },
        {
          checks: [
            {
              name: "mongodb",
              check: async () => {
                const e = new Error(
                  "connection to mongodb://lucid:s3cret-pw@db.internal:27017/lucid_rdp refused",
                );
                e.stack = `${e.message}\n    at connect (driver.js:1:1)`;
                throw e;
              },
            },
          ],
        },
      );
      try {
        const res = await fetch(`${server.url}/health`);
        expect(res.status).toBe(503);
        const text = await res.text();
        expect(JSON.parse(text)).toMatchObject({
          checks: {
            mongodb: {
              ok: false,
              error: "connection to mongodb://[redacted]@db.internal:27017/lucid_rdp refused",
            },
          },
        });
        expect(text).not.toContain("s3cret-pw");
        expect(text).not.toContain("    at ");
      } finally {
        await server.shutdown();
      }
    });

    it("re-run at once on the dependency's own signal (watch), between the interval's runs", async () => {
      let up = true;
      let signalChange: (() => void) | undefined;
      let unwatched = false;
      const server = await startEcho(
        { HEALTH_CHECK_INTERVAL_MS: "600000" },
        {
          checks: [
            {
              name: "redis",
              check: async () => {
                if (!up) throw new Error("connection closed");
              },
              watch: (changed) => {
                signalChange = changed;
                return () => {
                  unwatched = true;
                };
              },
            },
          ],
        },
      );
      const readyz = async () => (await fetch(`${server.url}/readyz`)).status;
      expect(await readyz()).toBe(200);
      up = false;
      signalChange?.();
      await vi.waitFor(async () => expect(await readyz()).toBe(503), { timeout: 5_000 });
      up = true;
      signalChange?.();
      await vi.waitFor(async () => expect(await readyz()).toBe(200), { timeout: 5_000 });
      await server.shutdown();
      expect(unwatched).toBe(true);
    });
  });
});
