/**
 * CPU and memory of a server, from the resource-monitor of the host it runs on. The monitor's URL
 * comes from a template (RESOURCE_MONITOR_URL, e.g. `http://{host}:8090`, `{host}` being the
 * server's host); without one, or when the monitor does not answer within a second, usage is
 * absent rather than invented.
 */
import type { Client } from "@connectrpc/connect";
import { HealthCheckStatus, ResourceMonitorService, type ResourceUsage } from "@lucid-rdp/gen";
import { createMeshClient } from "./mesh-client.js";

export type UsageLookup = (host: string, serverId: string) => Promise<ResourceUsage | undefined>;

export function createUsageLookup(template: string | undefined, token?: string): UsageLookup {
  if (template === undefined) return async () => undefined;
  const clients = new Map<string, Client<typeof ResourceMonitorService>>();
  return async (host, serverId) => {
    const baseUrl = template.replaceAll("{host}", host.includes(":") ? `[${host}]` : host);
    let client = clients.get(baseUrl);
    if (client === undefined) {
      client = createMeshClient(ResourceMonitorService, {
        baseUrl,
        deadlineMs: 1_000,
        maxAttempts: 1,
        token: token,
      });
      clients.set(baseUrl, client);
    }
    try {
      const res = await client.getServerUsage({ target: { case: "serverId", value: serverId } });
      return res.serverUsage?.usage;
    } catch {
      return undefined;
    }
  };
}

/** A host's health as placement needs it: whether a fatal check fails, and which. */
export type HostHealthLookup = (
  host: string,
) => Promise<{ fatal: boolean; message: string } | undefined>;

/**
 * Host health from the host's resource-monitor (same RESOURCE_MONITOR_URL template), cached for
 * `ttlMs` per host so that placement does not call it for every create. Unknown (no template, no
 * answer) is not fatal: a node is only kept off by a monitor that says so.
 */
export function createHostHealthLookup(
  template: string | undefined,
  token?: string,
  ttlMs = 5_000,
): HostHealthLookup {
  if (template === undefined) return async () => undefined;
  const cache = new Map<
    string,
    { at: number; value: { fatal: boolean; message: string } | undefined }
  >();
  return async (host) => {
    const hit = cache.get(host);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const baseUrl = template.replaceAll("{host}", host.includes(":") ? `[${host}]` : host);
    const client = createMeshClient(ResourceMonitorService, {
      baseUrl,
      deadlineMs: 1_000,
      maxAttempts: 1,
      token: token,
    });
    let value: { fatal: boolean; message: string } | undefined;
    try {
      const res = await client.getHostHealth({});
      const failing = (res.hostHealth?.checks ?? []).filter(
        (c) => c.fatal && c.status === HealthCheckStatus.FAILING,
      );
      value = {
        fatal: failing.length > 0,
        message: failing.map((c) => `${c.name}: ${c.message}`).join("; "),
      };
    } catch {
      value = undefined;
    }
    cache.set(host, { at: Date.now(), value });
    return value;
  };
}
