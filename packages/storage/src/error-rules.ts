/** How the store errors reach clients: one rule per class, for startServer({ errorRules }). */
import { Code } from "@connectrpc/connect";
import { defineErrorRule, type ErrorRule } from "@lucid-rdp/runtime";
import {
  CursorOutOfRangeError,
  InvalidCursorError,
  LeaseLostError,
} from "./coordination/errors.js";
import {
  AlreadyExistsError,
  BackendUnavailableError,
  ConflictError,
  InvalidPageTokenError,
  NotFoundError,
} from "./errors.js";
import { RequestIdReusedError, RequestInProgressError } from "./stores/idempotency.js";

export const storageErrorRules: readonly ErrorRule[] = [
  defineErrorRule({
    match: NotFoundError,
    code: Code.NotFound,
    reason: "NOT_FOUND",
    metadata: (e) => ({ collection: e.collection, id: e.id }),
  }),
  defineErrorRule({
    match: ConflictError,
    code: Code.Aborted,
    reason: "CONCURRENT_UPDATE",
    metadata: (e) => ({ collection: e.collection, id: e.id }),
  }),
  defineErrorRule({
    match: AlreadyExistsError,
    code: Code.AlreadyExists,
    reason: "ALREADY_EXISTS",
    metadata: (e) => ({ collection: e.collection, key: e.key }),
  }),
  defineErrorRule({
    match: InvalidPageTokenError,
    code: Code.InvalidArgument,
    reason: "INVALID_PAGE_TOKEN",
    message: () => "page_token is not a next_page_token this list issued",
    field: () => "page_token",
  }),
  defineErrorRule({
    match: RequestIdReusedError,
    code: Code.AlreadyExists,
    reason: "REQUEST_ID_REUSED",
    metadata: (e) => ({ request_id: e.requestId }),
  }),
  defineErrorRule({
    match: RequestInProgressError,
    code: Code.Aborted,
    reason: "REQUEST_IN_PROGRESS",
    metadata: (e) => ({ request_id: e.requestId }),
  }),
  defineErrorRule({
    match: CursorOutOfRangeError,
    code: Code.OutOfRange,
    reason: "CURSOR_OUT_OF_RANGE",
  }),
  defineErrorRule({
    match: InvalidCursorError,
    code: Code.InvalidArgument,
    reason: "INVALID_CURSOR",
  }),
  defineErrorRule({
    match: LeaseLostError,
    code: Code.Aborted,
    reason: "LEASE_LOST",
  }),
  defineErrorRule({
    match: BackendUnavailableError,
    code: Code.Unavailable,
    reason: "BACKEND_UNAVAILABLE",
    metadata: (e) => ({ backend: e.backend }),
  }),
];
