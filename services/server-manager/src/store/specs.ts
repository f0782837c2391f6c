/** server-manager's collections and their uniqueness rules, on memory and on MongoDB. */
import { type CollectionSpec, sharedSpecs } from "@lucid-rdp/storage";
import { liveServerStates } from "../domain/server-state.js";
import type { NodeRecord, ServerRecord } from "./records.js";

export const serverSpec: CollectionSpec<ServerRecord> = {
  name: "servers",
  // One port per node among servers that hold one (servers behind a door share its port).
  unique: [
    {
      name: "node_port",
      key: (s) =>
        liveServerStates.includes(s.state) && s.viaDoor !== true
          ? `${s.nodeId}:${s.port}`
          : undefined,
    },
  ],
  indexes: ["state", "nodeId", "owner", "sessionId", "requestId", "outboxSince"],
};

export const nodeSpec: CollectionSpec<NodeRecord> = {
  name: "nodes",
  unique: [{ name: "address", key: (n) => n.address }],
  indexes: ["draining"],
};

/** Every collection server-manager uses. */
export const serverManagerSpecs = { servers: serverSpec, nodes: nodeSpec, ...sharedSpecs } as const;
