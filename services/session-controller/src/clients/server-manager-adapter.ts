/** The ServerManagerClient over server-manager's generated Connect client: proto <-> domain. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  CreateServerRequestSchema,
  type Server,
  ServerEventType,
  type ServerManagerService,
  ServerState,
  ServerStateReason,
} from "@lucid-rdp/gen";
import type { ManagedNode, ManagedServer, ManagedServerState } from "../domain/managed-server.js";
import { ServerManagerCallError } from "../domain/server-manager-call-error.js";
import type { ServerCallOptions, ServerManagerClient } from "./server-manager.js";

const stateNames: Record<ServerState, ManagedServerState> = {
  [ServerState.UNSPECIFIED]: "UNSPECIFIED",
  [ServerState.PROVISIONING]: "PROVISIONING",
  [ServerState.READY]: "READY",
  [ServerState.DRAINING]: "DRAINING",
  [ServerState.STOPPING]: "STOPPING",
  [ServerState.STOPPED]: "STOPPED",
  [ServerState.FAILED]: "FAILED",
};

const stateValues = Object.fromEntries(
  Object.entries(stateNames).map(([v, name]) => [name, Number(v) as ServerState]),
) as Record<ManagedServerState, ServerState>;

const eventTypes: Record<ServerEventType, "UNSPECIFIED" | "CREATED" | "STATE_CHANGED" | "UPDATED"> =
  {
    [ServerEventType.UNSPECIFIED]: "UNSPECIFIED",
    [ServerEventType.CREATED]: "CREATED",
    [ServerEventType.STATE_CHANGED]: "STATE_CHANGED",
    [ServerEventType.UPDATED]: "UPDATED",
  };

/** A server message as a ManagedServer (whitelisted fields). */
export function managedServerOf(server: Server): ManagedServer;
export function managedServerOf(server: Server | undefined): ManagedServer | undefined;
export function managedServerOf(server: Server | undefined): ManagedServer | undefined {
  if (server === undefined) return undefined;
  return {
    id: server.id,
    nodeId: server.nodeId,
    sessionId: server.sessionId,
    state: stateNames[server.state] ?? "UNSPECIFIED",
    stateReason:
      server.stateReason === ServerStateReason.UNSPECIFIED
        ? undefined
        : ServerStateReason[server.stateReason],
    stateMessage: server.stateMessage,
    endpoint: server.endpoint
      ? { host: server.endpoint.host, port: server.endpoint.port }
      : undefined,
    ...(server.routingToken !== "" ? { routingToken: server.routingToken } : {}),
  };
}

/**
 * Codes that say nothing was done and nothing will be: a definite refusal. Any other code
 * (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELED, UNKNOWN, INTERNAL, ABORTED, DATA_LOSS) leaves it open
 * whether server-manager did what it was asked.
 */
const definiteCodes = new Set<Code>([
  Code.InvalidArgument,
  Code.FailedPrecondition,
  Code.ResourceExhausted,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.OutOfRange,
  Code.Unimplemented,
]);

/** A failed call as the domain's ServerManagerCallError (the Connect error as its cause). */
function callError(rpc: string, e: unknown): ServerManagerCallError {
  const err = ConnectError.from(e);
  return new ServerManagerCallError(
    rpc,
    Code[err.code],
    err.rawMessage,
    definiteCodes.has(err.code),
    {
      cause: err,
    },
  );
}

/** Runs one call, its failure as a ServerManagerCallError. */
async function call<T>(rpc: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    throw callError(rpc, e);
  }
}

/** Call options as Connect takes them (only the fields given). */
function callOptions(opts: ServerCallOptions | undefined) {
  if (opts === undefined) return undefined;
  return {
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  };
}

/** A ServerManagerClient over the generated client of server-manager (real or in-memory). */
export function createServerManagerClient(
  client: Client<typeof ServerManagerService>,
): ServerManagerClient {
  return {
    async createServerForSession(req, opts) {
      const res = await call("CreateServer", () =>
        client.createServer(
          create(CreateServerRequestSchema, {
            requestId: req.requestId,
            owner: req.owner,
            sessionId: req.sessionId,
            waitTimeout: durationFromMs(req.waitTimeoutMs),
          }),
          callOptions(opts),
        ),
      );
      return managedServerOf(res.server);
    },
    async getServer(serverId, opts) {
      const res = await call("GetServer", () => client.getServer({ serverId }, callOptions(opts)));
      return managedServerOf(res.server);
    },
    async deleteServer(serverId, req, opts) {
      const res = await call("DeleteServer", () =>
        client.deleteServer({ serverId, force: req.force }, callOptions(opts)),
      );
      return managedServerOf(res.server);
    },
    async listServers(req, opts) {
      const res = await call("ListServers", () =>
        client.listServers(
          {
            ...(req.states !== undefined ? { states: req.states.map((s) => stateValues[s]) } : {}),
            pageSize: req.pageSize,
            ...(req.pageToken !== undefined ? { pageToken: req.pageToken } : {}),
          },
          callOptions(opts),
        ),
      );
      return {
        servers: res.servers.map((s) => managedServerOf(s)),
        nextPageToken: res.nextPageToken,
        lastEventId: res.lastEventId,
      };
    },
    async *watchServers(afterEventId, opts) {
      // Only the stream's own failures land here: a consumer that stops ends it through return().
      try {
        for await (const ev of client.watchServers({ afterEventId }, callOptions(opts))) {
          yield {
            eventId: ev.eventId,
            type: eventTypes[ev.type] ?? "UNSPECIFIED",
            server: managedServerOf(ev.server),
          };
        }
      } catch (e) {
        throw callError("WatchServers", e);
      }
    },
    async listNodes(opts) {
      // Every page: ListNodes answers at most `page_size` nodes (50 by default) per call.
      const nodes: ManagedNode[] = [];
      let pageToken = "";
      do {
        const res = await call("ListNodes", () =>
          client.listNodes({ pageSize: 1000, pageToken }, callOptions(opts)),
        );
        for (const n of res.nodes) {
          nodes.push({
            id: n.id,
            address: n.address ? { host: n.address.host, port: n.address.port } : undefined,
          });
        }
        pageToken = res.nextPageToken;
      } while (pageToken !== "");
      return nodes;
    },
  };
}
