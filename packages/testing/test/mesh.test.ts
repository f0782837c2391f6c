/**
 * The mesh harness on its own, without server-manager: one xrdp-integration node on the shared real
 * Redis and FerretDB answers /readyz, starts a real xrdp instance in its port range, and close()
 * leaves no process behind, even an xrdp whose service was killed with SIGKILL.
 */
import { randomUUID } from "node:crypto";
import { InstanceState } from "@lucid-rdp/gen";
import { readProcStat } from "@lucid-rdp/proc";
import { probeRdp } from "@lucid-rdp/xrdp-integration";
import { describe, expect, it } from "vitest";
import { bindable, type Mesh, MissingToolError, startMesh } from "../src/index.js";

/** Starts a mesh, or reports the missing tool and skips the test (outside CI). */
async function meshOrSkip(
  ctx: { skip: () => void; task: { name: string } },
  opts: Parameters<typeof startMesh>[0],
): Promise<Mesh | undefined> {
  try {
    return await startMesh(opts);
  } catch (e) {
    if (e instanceof MissingToolError) {
      e.report(ctx.task.name);
      ctx.skip();
      return undefined;
    }
    throw e;
  }
}

/** True while `pid` runs; a zombie (killed, not yet reaped by its new parent) has ended. */
function alive(pid: number): boolean {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== "Z";
}

describe("startMesh()", () => {
  it("starts a node on shared Redis and FerretDB that starts xrdp in its range; close() stops it", async (ctx) => {
    const mesh = await meshOrSkip(ctx, { serverManagers: 0, xrdpNodes: 1 });
    if (mesh === undefined) return;
    let pids: number[] = [];
    try {
      expect(mesh.serverManagers).toEqual([]);
      expect(mesh.nodes.map((n) => n.nodeId)).toEqual(["node-1"]);
      const node = mesh.nodes[0]!;
      expect(node.env.SERVER_MANAGER_URL).toBeUndefined();
      expect(node.env.MONGODB_DB).toBe("xrdp-1");
      expect(node.env.REDIS_URL).toBe(mesh.redis.url);
      expect(node.portRange.end - node.portRange.start).toBe(99);
      expect((await fetch(`${node.server.url}/readyz`)).status).toBe(200);

      const port = node.portRange.start;
      const { instance } = await mesh.xrdp(0).startInstance({
        requestId: randomUUID(),
        owner: "lucidtest",
        serverId: randomUUID(),
        port,
        waitTimeout: { seconds: 20n },
      });
      expect(instance?.state).toBe(InstanceState.READY);
      expect((await probeRdp("127.0.0.1", port, { timeoutMs: 5_000 })).ok).toBe(true);
      expect(mesh.xrdpProcesses()).toEqual([{ pid: instance?.pid, nodeId: "node-1" }]);
      pids = mesh.xrdpProcesses().map((p) => p.pid);
    } finally {
      await mesh.close();
    }
    expect(pids.filter(alive)).toEqual([]);
    expect(mesh.xrdpProcesses()).toEqual([]);
    expect(await bindable(mesh.nodes[0]!.portRange.start)).toBe(true);
    expect(mesh.nodes[0]!.server.child.exitCode).toBe(0);
  });

  it("close() kills the xrdp of a node whose service was killed with SIGKILL", async (ctx) => {
    const mesh = await meshOrSkip(ctx, { serverManagers: 0, xrdpNodes: 1 });
    if (mesh === undefined) return;
    let orphan: number | undefined;
    try {
      const node = mesh.nodes[0]!;
      const { instance } = await mesh.xrdp(0).startInstance({
        requestId: randomUUID(),
        owner: "lucidtest",
        port: node.portRange.start + 1,
        waitTimeout: { seconds: 20n },
      });
      expect(instance?.state, instance?.stateMessage).toBe(InstanceState.READY);
      node.server.kill("SIGKILL");
      await node.server.exited;
      orphan = instance?.pid;
      expect(mesh.xrdpProcesses()).toEqual([{ pid: orphan, nodeId: "node-1" }]);
    } finally {
      await mesh.close();
    }
    expect(alive(orphan ?? 0)).toBe(false);
    expect(mesh.xrdpProcesses()).toEqual([]);
  });
});
