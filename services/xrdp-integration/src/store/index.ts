/** The records and collections of xrdp-integration: its persistence shapes and their specs. */
export * from "./records.js";
export * from "./specs.js";
export * from "./stores.js";
