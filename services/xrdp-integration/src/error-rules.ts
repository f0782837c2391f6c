/** xrdp-integration's domain errors as clients see them (with the stores' rules). */
import { Code } from "@connectrpc/connect";
import { defineErrorRule, type ErrorRule } from "@lucid-rdp/runtime";
import { storageErrorRules } from "@lucid-rdp/storage";
import { IniValueError } from "./domain/ini-format.js";
import {
  CapacityExceededError,
  DisplaysExhaustedError,
  NoFreePortError,
  OwnerNotAllowedError,
  PortInUseError,
  PortRequiredError,
  ShuttingDownError,
  XrdpUnavailableError,
} from "./domain/instance-errors.js";
import { RequestParamsChangedError } from "./domain/instance-identity.js";
import { SettingsPolicyError, SettingsValueError } from "./domain/settings-errors.js";
import { TlsMaterialError } from "./domain/tls-material.js";

export const errorRules: readonly ErrorRule[] = [
  defineErrorRule({
    match: XrdpUnavailableError,
    code: Code.FailedPrecondition,
    reason: "XRDP_UNAVAILABLE",
    message: (e) => `xrdp cannot be started on this node (XRDP_BIN): ${e.reason}`,
    metadata: () => ({ variable: "XRDP_BIN" }),
  }),
  defineErrorRule({
    match: PortInUseError,
    code: Code.FailedPrecondition,
    reason: "PORT_IN_USE",
    metadata: (e) => ({ port: String(e.port) }),
  }),
  defineErrorRule({
    match: CapacityExceededError,
    code: Code.ResourceExhausted,
    reason: "NODE_AT_CAPACITY",
    metadata: (e) => ({ cap: "XRDP_MAX_INSTANCES", max: String(e.max) }),
  }),
  defineErrorRule({
    match: DisplaysExhaustedError,
    code: Code.ResourceExhausted,
    reason: "DISPLAYS_EXHAUSTED",
    metadata: (e) => ({
      variable: "XRDP_DISPLAY_RANGE",
      needed: String(e.needed),
      free: String(e.free),
    }),
  }),
  defineErrorRule({
    match: PortRequiredError,
    code: Code.InvalidArgument,
    reason: "PORT_REQUIRED",
    field: () => "port",
  }),
  defineErrorRule({
    match: NoFreePortError,
    code: Code.ResourceExhausted,
    reason: "NO_FREE_PORT",
    metadata: (e) => ({ variable: "NODE_PORT_RANGE", range: `${e.range.start}-${e.range.end}` }),
  }),
  defineErrorRule({
    match: OwnerNotAllowedError,
    code: Code.InvalidArgument,
    reason: "OWNER_NOT_ALLOWED",
    field: () => "owner",
  }),
  defineErrorRule({
    match: SettingsPolicyError,
    code: Code.InvalidArgument,
    reason: "SETTINGS_BELOW_FLOOR",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: SettingsValueError,
    code: Code.InvalidArgument,
    reason: "INVALID_SETTING",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: TlsMaterialError,
    code: Code.FailedPrecondition,
    reason: "TLS_MATERIAL_UNAVAILABLE",
    message: (e) => `the instance's TLS certificate cannot be made on this node: ${e.message}`,
  }),
  defineErrorRule({
    match: IniValueError,
    code: Code.InvalidArgument,
    reason: "UNSAFE_CONFIG_VALUE",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: RequestParamsChangedError,
    code: Code.AlreadyExists,
    reason: "REQUEST_ID_REUSED",
    metadata: (e) => ({ request_id: e.requestId, field: e.field }),
  }),
  defineErrorRule({
    match: ShuttingDownError,
    code: Code.Unavailable,
    reason: "SHUTTING_DOWN",
  }),
  ...storageErrorRules,
];
