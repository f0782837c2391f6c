/** session-controller's collection, typed by its records. */
import type { Collection } from "@lucid-rdp/storage";
import type { SessionRecord } from "./records.js";

export type SessionStore = Collection<SessionRecord>;
