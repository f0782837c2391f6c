/** server-manager's domain errors as clients see them (with the stores' rules). */
import { Code } from "@connectrpc/connect";
import { defineErrorRule, type ErrorRule } from "@lucid-rdp/runtime";
import { storageErrorRules } from "@lucid-rdp/storage";
import {
  NodeNotFoundError,
  NodesFullError,
  NodeUnavailableError,
  NoHealthyNodeError,
} from "./domain/placement.js";
import { PortPoolExhaustedError } from "./domain/port-pool.js";
import { RegistrationRefusedError, TooManyNodesError } from "./domain/registration-errors.js";
import { IllegalTransitionError } from "./domain/server-state.js";

export const errorRules: readonly ErrorRule[] = [
  defineErrorRule({
    match: NodeNotFoundError,
    code: Code.NotFound,
    reason: "NODE_NOT_FOUND",
    metadata: (e) => ({ node_id: e.nodeId }),
  }),
  defineErrorRule({
    match: NodeUnavailableError,
    code: Code.FailedPrecondition,
    reason: "NODE_UNAVAILABLE",
    metadata: (e) => ({ node_id: e.nodeId }),
  }),
  defineErrorRule({
    match: NoHealthyNodeError,
    code: Code.Unavailable,
    reason: "NO_HEALTHY_NODE",
  }),
  defineErrorRule({
    match: NodesFullError,
    code: Code.ResourceExhausted,
    reason: "NODES_AT_CAPACITY",
    metadata: () => ({ cap: "max_servers" }),
  }),
  defineErrorRule({
    match: PortPoolExhaustedError,
    code: Code.ResourceExhausted,
    reason: "PORT_POOL_EXHAUSTED",
    metadata: (e) => ({ node_id: e.nodeId, cap: "port_range" }),
  }),
  defineErrorRule({
    match: RegistrationRefusedError,
    code: Code.FailedPrecondition,
    reason: "REGISTRATION_REFUSED",
    metadata: (e) => ({ node_id: e.nodeId }),
  }),
  defineErrorRule({
    match: TooManyNodesError,
    code: Code.ResourceExhausted,
    reason: "TOO_MANY_NODES",
    metadata: (e) => ({ cap: "SERVER_MANAGER_MAX_NODES", max: String(e.max) }),
  }),
  defineErrorRule({
    match: IllegalTransitionError,
    code: Code.FailedPrecondition,
    reason: "ILLEGAL_TRANSITION",
    metadata: (e) => ({ from: e.from, to: e.to }),
  }),
  ...storageErrorRules,
];
