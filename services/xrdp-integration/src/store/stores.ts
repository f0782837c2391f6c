/** xrdp-integration's collection, typed by its records. */
import type { Collection } from "@lucid-rdp/storage";
import type { InstanceRecord } from "./records.js";

export type InstanceStore = Collection<InstanceRecord>;
