/** The records resource-monitor keeps: alert rules and alerts, the domain's shapes plus storage's. */
import type { Outboxed, Versioned } from "@lucid-rdp/storage";
import type { Alert } from "../domain/alert.js";
import type { AlertRule } from "../domain/alert-rule.js";

/** An alert rule as stored (issue 7): the domain's rule, versioned. */
export interface AlertRuleRecord extends AlertRule, Versioned {}

/** One alert as stored (issue 7): the domain's alert, versioned, with its events' outbox. */
export interface AlertRecord extends Alert, Outboxed {}
