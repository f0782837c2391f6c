/** The records and collections of session-controller: its persistence shapes, their specs and readers. */
export * from "./audit-reader.js";
export * from "./records.js";
export * from "./request-ledger.js";
export * from "./specs.js";
export * from "./stores.js";
