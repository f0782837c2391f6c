/**
 * Builds the browser console that session-controller serves at /console (packages/console):
 * static/{index.html,style.css} copied, src/main.ts bundled with esbuild (the generated clients,
 * @connectrpc/connect-web and protobuf-es; no framework) into app.js.
 *
 *   tsx scripts/build-console.ts [outDir]   (default packages/console/dist)
 *
 * `npm start` runs it first; images run it in their build stage and set CONSOLE_DIR.
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "../packages/console");

/** The default output: where session-controller looks when CONSOLE_DIR is unset. */
export const defaultConsoleDir = join(pkg, "dist");

/** Builds the console into `outDir`; resolves to the size of app.js in bytes. */
export async function buildConsole(outDir: string = defaultConsoleDir): Promise<number> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [join(pkg, "src/main.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome120", "firefox120", "safari17"],
    minify: true,
    legalComments: "none",
    logLevel: "warning",
  });
  // Precompressed once here, so serving it costs no CPU: about 235 KiB -> 60 KiB, most of it the
  // contracts' descriptors and the protovalidate descriptors they import.
  const app = await readFile(join(outDir, "app.js"));
  await writeFile(join(outDir, "app.js.gz"), gzipSync(app, { level: 9 }));
  await copyFile(join(pkg, "static/index.html"), join(outDir, "index.html"));
  await copyFile(join(pkg, "static/style.css"), join(outDir, "style.css"));
  return app.length;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? defaultConsoleDir);
  const bytes = await buildConsole(out);
  process.stdout.write(`console built in ${out} (app.js ${(bytes / 1024).toFixed(0)} KiB)\n`);
}
