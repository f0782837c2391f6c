/**
 * Collections the storage package's own tests write: small records of its own, so that its tests
 * do not depend on any service (each service's collections are checked by the mesh-wide contract
 * run in test/store-contract/).
 */
import type { CollectionSpec, Labels, Outboxed, Versioned } from "../../src/index.js";
import { sharedSpecs } from "../../src/index.js";

/** A placed thing with a port: what the repository tests write, with an outbox. */
export interface TestServer extends Outboxed {
  readonly owner: string;
  readonly nodeId: string;
  readonly host: string;
  readonly port: number;
  readonly state: string;
  readonly stateMessage?: string;
  readonly labels: Labels;
}

/** A registered host with a unique address: what the version-claim tests update. */
export interface TestNode extends Versioned {
  readonly address: string;
  readonly maxServers: number;
  readonly draining: boolean;
  readonly source: string;
  readonly heartbeatTtlMs: number;
  readonly portRangeStart: number;
  readonly portRangeEnd: number;
  readonly labels: Labels;
  readonly serving?: boolean;
}

const serverSpec: CollectionSpec<TestServer> = {
  name: "servers",
  unique: [{ name: "node_port", key: (s) => `${s.nodeId}:${s.port}` }],
  indexes: ["state", "outboxSince"],
};

const nodeSpec: CollectionSpec<TestNode> = {
  name: "nodes",
  unique: [{ name: "address", key: (n) => n.address }],
  indexes: ["draining"],
};

/** The test collections and the shared ones (idempotency, audit). */
export const testSpecs = { servers: serverSpec, nodes: nodeSpec, ...sharedSpecs } as const;
