/** The records and collections of server-manager: its persistence shapes and their specs. */
export * from "./records.js";
export * from "./specs.js";
export * from "./stores.js";
