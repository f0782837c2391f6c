/**
 * What the mesh holds right now, read straight from where it lives, past every service: the
 * session, server and instance records in FerretDB (databases "sc", "sm" and each node's
 * `<MONGODB_DB>_<node id>`, as xrdp-integration's config names it), the port claims in Redis (one
 * hash per node, `lucid:ports:{<node id>}`, field = port, value = `<server id>|<claim time>`, see
 * packages/storage/src/coordination/redis-port-leases.ts) and the xrdp processes of the process
 * table. The invariant checker judges these snapshots; nothing here goes through a service.
 */

import type { Mesh } from "@lucid-rdp/testing";
import { Redis } from "ioredis";
import { type Document, MongoClient } from "mongodb";

/** A session record, as session-controller stores it (the fields the checks read). */
export interface SessionDoc {
  readonly id: string;
  readonly requestId: string;
  readonly user: string;
  readonly state: string;
  readonly stateReason?: string;
  readonly serverId?: string;
  readonly nodeId?: string;
  readonly port?: number;
  readonly updateTime?: Date;
}

/** A server record, as server-manager stores it. */
export interface ServerDoc {
  readonly id: string;
  readonly requestId?: string;
  readonly state: string;
  readonly stateReason?: string;
  readonly sessionId?: string;
  readonly nodeId: string;
  readonly port: number;
  readonly instanceId?: string;
  readonly updateTime?: Date;
}

/** An instance record of a node, as xrdp-integration stores it. */
export interface InstanceDoc {
  readonly id: string;
  readonly nodeId: string;
  readonly serverId: string;
  readonly state: string;
  readonly stateReason?: string;
  readonly port: number;
  readonly pid?: number;
  readonly updateTime?: Date;
}

/** One claimed port of a node in Redis. */
export interface PortClaim {
  readonly nodeId: string;
  readonly port: number;
  /** The claim's value: `<server id>|<claim time in ms>`. */
  readonly owner: string;
  readonly serverId: string;
}

/** Everything the checks look at, read at one moment (store by store, not atomically). */
export interface MeshState {
  readonly takenAt: number;
  readonly sessions: readonly SessionDoc[];
  readonly servers: readonly ServerDoc[];
  readonly instances: readonly InstanceDoc[];
  readonly claims: readonly PortClaim[];
  readonly processes: readonly { readonly pid: number; readonly nodeId: string }[];
  /** Stores that could not be read, with why; the checks then report the state as unknown. */
  readonly unreadable: readonly string[];
}

/** A reader of the mesh's state; close() when done. */
export interface MeshStateReader {
  read(): Promise<MeshState>;
  /** How many records `collection` of database `db` holds right now (for fault triggers). */
  count(db: "sc" | "sm" | { node: number }, collection: string): Promise<number>;
  close(): Promise<void>;
}

/** The database of node `i`'s xrdp-integration, named as its config.ts names it. */
export function nodeDatabase(mesh: Mesh, i: number): string {
  const node = mesh.nodes[i];
  if (node === undefined) throw new Error(`the mesh has no node #${i}`);
  return `${node.env.MONGODB_DB ?? "lucid_rdp"}_${node.nodeId.replaceAll("-", "_")}`.slice(0, 63);
}

/** Opens a Mongo and a Redis client on the mesh's backends. */
export function openMeshState(mesh: Mesh): MeshStateReader {
  const mongo = new MongoClient(mesh.mongo.url, {
    serverSelectionTimeoutMS: 3_000,
    connectTimeoutMS: 3_000,
    socketTimeoutMS: 10_000,
  });
  const redis = new Redis(mesh.redis.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: () => 200,
  });
  // Errors surface through the commands; an outage must not crash the test process.
  redis.on("error", () => undefined);

  const dbName = (db: "sc" | "sm" | { node: number }) =>
    typeof db === "string" ? db : nodeDatabase(mesh, db.node);

  const readAll = async (db: string, collection: string): Promise<Document[]> =>
    mongo.db(db).collection(collection).find({}).toArray();

  return {
    async read() {
      const unreadable: string[] = [];
      const attempt = async <T>(what: string, fn: () => Promise<T>, empty: T): Promise<T> => {
        try {
          return await fn();
        } catch (e) {
          unreadable.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
          return empty;
        }
      };
      const sessions = await attempt(
        "sc.sessions",
        async () => (await readAll("sc", "sessions")).map(toSession),
        [] as SessionDoc[],
      );
      const servers = await attempt(
        "sm.servers",
        async () => (await readAll("sm", "servers")).map(toServer),
        [] as ServerDoc[],
      );
      const instances: InstanceDoc[] = [];
      const claims: PortClaim[] = [];
      for (const [i, node] of mesh.nodes.entries()) {
        const db = nodeDatabase(mesh, i);
        instances.push(
          ...(await attempt(
            `${db}.instances`,
            async () => (await readAll(db, "instances")).map((d) => toInstance(d, node.nodeId)),
            [] as InstanceDoc[],
          )),
        );
        const key = `lucid:ports:{${node.nodeId}}`;
        const held = await attempt(
          `redis ${key}`,
          async () => {
            if (redis.status === "wait" || redis.status === "end") await redis.connect();
            return redis.hgetall(key);
          },
          {} as Record<string, string>,
        );
        for (const [port, owner] of Object.entries(held)) {
          claims.push({
            nodeId: node.nodeId,
            port: Number(port),
            owner,
            serverId: owner.split("|")[0] ?? owner,
          });
        }
      }
      return {
        takenAt: Date.now(),
        sessions,
        servers,
        instances,
        claims,
        processes: mesh.xrdpProcesses(),
        unreadable,
      };
    },
    async count(db, collection) {
      return mongo.db(dbName(db)).collection(collection).countDocuments({});
    },
    async close() {
      redis.disconnect();
      await mongo.close(true).catch(() => undefined);
    },
  };
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const date = (v: unknown): Date | undefined => (v instanceof Date ? v : undefined);

function toSession(d: Document): SessionDoc {
  return {
    id: String(d._id),
    requestId: str(d.requestId) ?? "",
    user: str(d.user) ?? "",
    state: str(d.state) ?? "?",
    stateReason: str(d.stateReason),
    serverId: str(d.serverId),
    nodeId: str(d.nodeId),
    port: num(d.port),
    updateTime: date(d.updateTime),
  };
}

function toServer(d: Document): ServerDoc {
  return {
    id: String(d._id),
    requestId: str(d.requestId),
    state: str(d.state) ?? "?",
    stateReason: str(d.stateReason),
    sessionId: str(d.sessionId),
    nodeId: str(d.nodeId) ?? "?",
    port: num(d.port) ?? 0,
    instanceId: str(d.instanceId),
    updateTime: date(d.updateTime),
  };
}

function toInstance(d: Document, nodeId: string): InstanceDoc {
  return {
    id: String(d._id),
    nodeId,
    serverId: str(d.serverId) ?? "",
    state: str(d.state) ?? "?",
    stateReason: str(d.stateReason),
    port: num(d.port) ?? 0,
    pid: num(d.pid),
    updateTime: date(d.updateTime),
  };
}
