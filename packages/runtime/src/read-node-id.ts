import { hostname } from "node:os";
import type { EnvReader } from "./config.js";

/**
 * Reads NODE_ID, the name a node goes by in the mesh: 1-63 lowercase letters, digits and dashes.
 * @default the host name, lowercased, other characters turned into dashes, cut to 63
 */
export function readNodeId(r: EnvReader): string {
  return (
    r.string("NODE_ID", {
      default: hostname()
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .slice(0, 63),
      pattern: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
      accepts: "1-63 lowercase letters, digits and dashes",
    }) ?? "node"
  );
}
