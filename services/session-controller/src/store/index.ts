/** The records and collections of session-controller: its persistence shapes and their specs. */
export * from "./records.js";
export * from "./specs.js";
export * from "./stores.js";
