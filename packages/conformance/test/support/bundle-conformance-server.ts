/**
 * Bundles the conformance server entry (src/main.ts) into one ESM file with esbuild: the runner
 * starts a server per configuration, and node on a bundle answers in about 0.3 s where
 * `node --import tsx` takes about 1.2 s (measured on the 2-core CI machine).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entry = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** Writes `<outDir>/conformance-server.mjs` and resolves with its path. */
export async function bundleConformanceServer(outDir: string): Promise<string> {
  const outfile = join(outDir, "conformance-server.mjs");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // CommonJS dependencies inlined into ESM still call `require` for Node built-ins.
    banner: {
      js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);',
    },
    logLevel: "warning",
  });
  return outfile;
}
