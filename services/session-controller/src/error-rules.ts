/** session-controller's domain errors as clients see them (with the stores' rules). */
import { Code } from "@connectrpc/connect";
import { defineErrorRule, type ErrorRule } from "@lucid-rdp/runtime";
import { storageErrorRules } from "@lucid-rdp/storage";
import { CapExceededError } from "./domain/caps.js";
import { PolicyOutOfBoundsError } from "./domain/policy.js";
import { RdpFileValueError } from "./domain/rdp-file.js";
import { NoServerManagerError, SessionEndedError } from "./domain/session-errors.js";
import { IllegalSessionTransitionError } from "./domain/session-state.js";

export const errorRules: readonly ErrorRule[] = [
  defineErrorRule({
    match: CapExceededError,
    code: Code.ResourceExhausted,
    reason: "SESSION_CAP_REACHED",
    metadata: (e) => ({ cap: e.cap, limit: String(e.limit) }),
  }),
  defineErrorRule({
    match: PolicyOutOfBoundsError,
    code: Code.InvalidArgument,
    reason: "POLICY_OUT_OF_BOUNDS",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: RdpFileValueError,
    code: Code.InvalidArgument,
    reason: "UNSAFE_RDP_VALUE",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: IllegalSessionTransitionError,
    code: Code.FailedPrecondition,
    reason: "ILLEGAL_TRANSITION",
    metadata: (e) => ({ from: e.from, to: e.to }),
  }),
  defineErrorRule({
    match: SessionEndedError,
    code: Code.FailedPrecondition,
    reason: "SESSION_ENDED",
    metadata: (e) => ({ state: e.state }),
  }),
  defineErrorRule({
    match: NoServerManagerError,
    code: Code.FailedPrecondition,
    reason: "NO_SERVER_MANAGER",
    metadata: () => ({ variable: "SERVER_MANAGER_URL" }),
  }),
  ...storageErrorRules,
];
