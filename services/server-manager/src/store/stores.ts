/** server-manager's collections, typed by their records. */
import type { Collection } from "@lucid-rdp/storage";
import type { NodeRecord, ServerRecord } from "./records.js";

export type ServerStore = Collection<ServerRecord>;
export type NodeStore = Collection<NodeRecord>;
