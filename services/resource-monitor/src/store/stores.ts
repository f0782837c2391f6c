/** resource-monitor's collections, typed by their records. */
import type { Collection } from "@lucid-rdp/storage";
import type { AlertRecord, AlertRuleRecord } from "./records.js";

export type AlertRuleStore = Collection<AlertRuleRecord>;
export type AlertStore = Collection<AlertRecord>;
