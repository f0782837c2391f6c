/** resource-monitor's domain errors as clients see them (with the stores' rules). */
import { Code } from "@connectrpc/connect";
import { defineErrorRule, type ErrorRule } from "@lucid-rdp/runtime";
import { storageErrorRules } from "@lucid-rdp/storage";
import { SilenceValidationError } from "./domain/alert-engine.js";
import { RuleValidationError } from "./domain/alert-rules.js";
import { StaleEtagError } from "./domain/stale-etag-error.js";

export const errorRules: readonly ErrorRule[] = [
  defineErrorRule({
    match: RuleValidationError,
    code: Code.InvalidArgument,
    reason: "INVALID_ALERT_RULE",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: SilenceValidationError,
    code: Code.InvalidArgument,
    reason: "INVALID_SILENCE",
    field: (e) => e.field,
  }),
  defineErrorRule({
    match: StaleEtagError,
    code: Code.Aborted,
    reason: "STALE_ETAG",
    metadata: (e) => ({ alert_rule_id: e.ruleId }),
  }),
  ...storageErrorRules,
];
