/** The records and collections of resource-monitor: its persistence shapes and their specs. */
export * from "./records.js";
export * from "./specs.js";
export * from "./stores.js";
