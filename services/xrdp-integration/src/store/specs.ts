/** xrdp-integration's collection and its uniqueness rules, on memory and on MongoDB. */
import { type CollectionSpec, sharedSpecs } from "@lucid-rdp/storage";
import { liveInstanceStates } from "../domain/instance-states.js";
import type { InstanceRecord } from "./records.js";

export const instanceSpec: CollectionSpec<InstanceRecord> = {
  name: "instances",
  // One live instance per port on a host, and per server; instances without a server (the
  // contract's empty server_id) are not limited.
  unique: [
    {
      name: "port",
      key: (i) => (liveInstanceStates.includes(i.state) ? String(i.port) : undefined),
    },
    {
      name: "server",
      key: (i) =>
        liveInstanceStates.includes(i.state) && i.serverId !== "" ? i.serverId : undefined,
    },
  ],
  indexes: ["state", "serverId", "outboxSince", "requestId", "warm"],
};

/** Every collection xrdp-integration uses. */
export const xrdpIntegrationSpecs = { instances: instanceSpec, ...sharedSpecs } as const;
