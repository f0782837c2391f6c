/**
 * CPU and memory of a server, from the resource-monitor of the host it runs on. The monitor's URL
 * comes from a template (RESOURCE_MONITOR_URL, e.g. `http://{host}:8090`, `{host}` being the
 * server's host); without one, or when the monitor does not answer within a second, usage is
 * absent rather than invented.
 */
import type { Client } from "@connectrpc/connect";
import { ResourceMonitorService, type ResourceUsage } from "@lucid-rdp/gen";
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
        token: token === undefined ? undefined : () => token,
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
