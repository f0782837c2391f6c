/**
 * Each distroless service's bundle, run the way its image runs it, without a Docker engine: in a
 * root holding only node, its shared libraries, the bundle, the health check and /etc/passwd;
 * read-only; chrooted as uid 65532; no shell; its own pid namespace and /proc (see
 * support/chroot.ts). It must reach SERVING, answer grpc.health.v1 (grpc-js from outside, and the
 * image's HEALTHCHECK script from inside), answer a real RPC, and stop cleanly on SIGTERM. This
 * catches a bundle that still needs node_modules, a shell or a writable path.
 *
 * The node binary is this machine's (the images carry Node 22; CI's Node may be older): what is
 * proven is the bundle and the image's layout, not the Node release.
 */

import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  AlertMetric,
  Comparison,
  ResourceMonitorService,
  ServerManagerService,
  SessionControllerService,
  Severity,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import { findTool, repoRoot, reportMissingTool } from "@lucid-rdp/testing";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHealthcheck, bundleService } from "../../scripts/bundle.js";
import {
  buildDistrolessRoot,
  type ChrootTools,
  idsOf,
  nonroot,
  type RootedService,
  runInRoot,
  startInRoot,
} from "./support/chroot.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === "true") {
  throw new Error("test/images/distroless.test.ts needs root (mount, chroot); CI runs as root");
}
const unshare = findTool("unshare", "apt-get install -y util-linux");
const mount = findTool("mount", "apt-get install -y mount");
const ldd = findTool("ldd", "apt-get install -y libc-bin");
const tools: ChrootTools | undefined =
  isRoot && unshare && mount && ldd ? { unshare, mount, ldd } : undefined;

type HealthCheck = (
  request: { service: string },
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: { status: string }) => void,
) => void;
/** A client from grpc-health-check's own proto-loader definition: independent of the runtime. */
const HealthClient = grpc.makeClientConstructor(healthService, "grpc.health.v1.Health");

/** grpc.health.v1.Health/Check through @grpc/grpc-js. */
function grpcHealth(port: number): Promise<string> {
  const client = new HealthClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const check = (client as unknown as { Check: HealthCheck }).Check.bind(client);
  return new Promise<string>((resolve, reject) => {
    check({ service: "" }, { deadline: Date.now() + 5_000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res?.status ?? "UNKNOWN");
    });
  });
}

/** Runs inside the root as the service's user: what it may not do. */
const probe = `
const fs = require("node:fs");
const cp = require("node:child_process");
const tryWrite = (p) => { try { fs.writeFileSync(p, "x"); return "written"; } catch (e) { return e.code; } };
const shell = cp.spawnSync("/bin/sh", ["-c", "true"]);
process.stdout.write(JSON.stringify({
  uid: process.getuid(), gid: process.getgid(), pid: process.pid,
  writes: ["/app/main.mjs", "/app/new", "/tmp/x", "/home/nonroot/x"].map(tryWrite),
  shell: shell.error ? shell.error.code : "ran",
  nodeModules: fs.existsSync("/node_modules") || fs.existsSync("/app/node_modules"),
}));
`;

interface Case {
  readonly name: "server-manager" | "session-controller" | "resource-monitor";
  readonly env?: Record<string, string>;
  readonly extra?: (root: string) => void;
  readonly rpc: string;
  readonly call: (url: string) => Promise<void>;
}

const cases: Case[] = [
  {
    name: "server-manager",
    rpc: "RegisterNode, then ListNodes",
    call: async (url) => {
      const c = createNodeClient(ServerManagerService, { baseUrl: url });
      await c.registerNode({
        nodeId: "chroot-node",
        address: { host: "127.0.0.1", port: 9 },
        rdpHost: "127.0.0.1",
        maxServers: 2,
        portRange: { start: 40000, end: 40009 },
        leaseTtl: { seconds: 30n },
        serving: true,
      });
      const { nodes } = await c.listNodes({});
      expect(nodes.map((n) => n.id)).toContain("chroot-node");
    },
  },
  {
    name: "session-controller",
    env: { CONSOLE_DIR: "/app/console" },
    // The image's build stage runs scripts/build-console.ts into /app/console; so does this root.
    extra: (root) => {
      const r = spawnSync(
        join(repoRoot, "node_modules/.bin/tsx"),
        [join(repoRoot, "scripts/build-console.ts"), join(root, "app/console")],
        { encoding: "utf8" },
      );
      if (r.status !== 0) throw new Error(`build-console failed: ${r.stderr}`);
    },
    rpc: "ListSessions, and the console at /console",
    call: async (url) => {
      const c = createNodeClient(SessionControllerService, { baseUrl: url });
      const { sessions } = await c.listSessions({});
      expect(sessions).toEqual([]);
      const page = await fetch(`${url}/console`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await page.text()).toMatch(/<html/i);
      expect((await fetch(`${url}/console/app.js`)).status).toBe(200);
    },
  },
  {
    name: "resource-monitor",
    env: { MONITOR_INTERVAL_MS: "500", NODE_ID: "chroot-node" },
    rpc: "GetHostMetrics (read from the root's /proc), CreateAlertRule",
    call: async (url) => {
      const c = createNodeClient(ResourceMonitorService, { baseUrl: url });
      const { latest } = await c.getHostMetrics({});
      expect(latest?.memory?.totalBytes ?? 0n).toBeGreaterThan(0n);
      expect(latest?.cpu?.cores.length ?? 0).toBeGreaterThan(0);
      const { alertRule } = await c.createAlertRule({
        requestId: randomUUID(),
        alertRule: {
          displayName: "chroot memory",
          metric: AlertMetric.HOST_MEMORY_USED_PERCENT,
          comparison: Comparison.GREATER_THAN,
          threshold: 99.9,
          severity: Severity.WARNING,
        },
      });
      expect(alertRule?.id).not.toBe("");
    },
  },
];

describe("distroless images, run from their bundles in a read-only chroot as 65532", () => {
  if (tools === undefined) {
    if (!isRoot) {
      process.stderr.write(
        '\n!!! SKIPPED "distroless images": needs root (mount, chroot); run as root, as CI does\n\n',
      );
    } else {
      for (const [name, hint, found] of [
        ["unshare", "apt-get install -y util-linux", unshare],
        ["mount", "apt-get install -y mount", mount],
        ["ldd", "apt-get install -y libc-bin", ldd],
      ] as const) {
        if (found === undefined) reportMissingTool(name, hint, "distroless images");
      }
    }
    it("needs root, unshare, mount and ldd", (ctx) => ctx.skip());
    return;
  }
  const t = tools;
  const out = mkdtempSync(join(tmpdir(), "bundles-"));
  const bundles = new Map<string, string>();
  let healthcheck = "";
  const roots: string[] = [];

  beforeAll(async () => {
    // Bundled once for the file: the three services and the health check, in parallel.
    const [check, ...built] = await Promise.all([
      bundleHealthcheck(out),
      ...cases.map((c) => bundleService(c.name, out)),
    ]);
    healthcheck = check!;
    for (const [i, c] of cases.entries()) bundles.set(c.name, built[i]!);
  });
  afterAll(() => {
    for (const dir of [out, ...roots]) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(cases)("$name", (c) => {
    let root = "";
    let svc: RootedService | undefined;
    // EMBEDDED_STATE=memory as the images set it (they ship no SQLite binding).
    const env = () => ({
      HOST: "127.0.0.1",
      PORT: "0",
      NODE_ENV: "production",
      EMBEDDED_STATE: "memory",
      ...c.env,
    });

    beforeAll(async () => {
      root = buildDistrolessRoot(t, { bundle: bundles.get(c.name)!, healthcheck }, c.extra);
      roots.push(root);
      svc = await startInRoot(t, root, env());
    });
    afterAll(async () => {
      if (svc !== undefined && svc.child.exitCode === null) {
        svc.child.kill("SIGKILL");
        await svc.exited;
      }
    });

    it("holds no shell, no node_modules and no package manager", () => {
      expect(existsSync(join(root, "bin/sh"))).toBe(false);
      expect(existsSync(join(root, "usr/bin/env"))).toBe(false);
      expect(existsSync(join(root, "node_modules"))).toBe(false);
      expect(existsSync(join(root, "app/node_modules"))).toBe(false);
    });

    it("runs as 65532 and reaches SERVING (grpc.health.v1 through grpc-js)", async () => {
      const s = svc!;
      const ids = idsOf(s.pid);
      expect(ids.uid).toEqual([nonroot, nonroot, nonroot, nonroot]);
      expect(ids.gid).toEqual([nonroot, nonroot, nonroot, nonroot]);
      expect(ids.groups).toEqual([]);
      expect(await grpcHealth(s.port)).toBe("SERVING");
    });

    it("answers the image's HEALTHCHECK, run inside the same root", async () => {
      const r = await runInRoot(t, root, ["/nodejs/bin/node", "/app/healthcheck.mjs"], {
        PORT: String(svc!.port),
        HOST: "0.0.0.0",
      });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("healthcheck: SERVING");
      expect(r.code).toBe(0);
    });

    it(`answers a real RPC: ${c.rpc}`, async () => {
      await c.call(svc!.url);
    });

    it("can write nowhere in its root and start no shell", async () => {
      const r = await runInRoot(t, root, ["/nodejs/bin/node", "-e", probe]);
      expect(r.code, r.stderr).toBe(0);
      const seen = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(seen).toEqual({
        uid: nonroot,
        gid: nonroot,
        // PID 1 of its own pid namespace, as in a container.
        pid: 1,
        writes: ["EROFS", "EROFS", "EROFS", "EROFS"],
        shell: "ENOENT",
        nodeModules: false,
      });
    });

    it("stops on SIGTERM with exit code 0, after which the HEALTHCHECK fails", async () => {
      const s = svc!;
      process.kill(s.pid, "SIGTERM");
      expect(await s.exited).toBe(0);
      expect(s.stderr()).toBe("");
      const r = await runInRoot(t, root, ["/nodejs/bin/node", "/app/healthcheck.mjs"], {
        PORT: String(s.port),
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/ECONNREFUSED/);
    });
  });
});
