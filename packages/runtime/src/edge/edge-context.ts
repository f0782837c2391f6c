/**
 * The per-request state the edge adapter shares with the edge interceptor and the strict JSON
 * decoder: which RPC is being served, its request id, and a client mistake found before connect
 * parsed the request, to be raised inside the interceptor chain so that it is logged and counted
 * once with the code the client sees.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { DescMethod } from "@bufbuild/protobuf";
import { type ConnectError, createContextKey } from "@connectrpc/connect";

/** What the edge knows about one call. */
export interface EdgeContext {
  /** The x-request-id of the call (the caller's, or generated). */
  readonly requestId: string;
  /** The RPC being served. */
  readonly method: DescMethod;
  /** A client mistake found by the edge, raised by the edge interceptor. */
  pendingError: ConnectError | undefined;
  /** True once the interceptor chain was entered (connect did not refuse the call first). */
  entered: boolean;
  /** True when the adapter already parsed the (single) request message strictly. */
  bodyChecked: boolean;
}

/** The call's edge context for code that gets no handler context (connect's JSON decoder). */
export const edgeStorage = new AsyncLocalStorage<EdgeContext>();

/** The call's edge context in `req.contextValues`. */
export const edgeContextKey = createContextKey<EdgeContext | undefined>(undefined, {
  description: "edge context",
});
