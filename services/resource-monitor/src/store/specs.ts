/** resource-monitor's collections and their uniqueness rules, on memory and on MongoDB. */
import { type CollectionSpec, sharedSpecs } from "@lucid-rdp/storage";
import type { AlertRecord, AlertRuleRecord } from "./records.js";

export const alertRuleSpec: CollectionSpec<AlertRuleRecord> = {
  name: "alert_rules",
  unique: [{ name: "name", key: (r) => r.name }],
  indexes: ["metric", "enabled"],
};

export const alertSpec: CollectionSpec<AlertRecord> = {
  name: "alerts",
  // One open (pending or firing) alert per rule and series.
  unique: [
    {
      name: "open_series",
      key: (a) => (a.state === "RESOLVED" ? undefined : `${a.ruleId}|${a.fingerprint}`),
    },
  ],
  indexes: ["ruleId", "state", "outboxSince"],
};

/** Every collection resource-monitor uses. */
export const resourceMonitorSpecs = {
  alertRules: alertRuleSpec,
  alerts: alertSpec,
  ...sharedSpecs,
} as const;
