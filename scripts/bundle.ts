/**
 * Bundles a service into one ESM file that runs on Node 22 with no node_modules beside it: what
 * the images copy into their runtime stage, and what the chroot tests (test/images/) run.
 *
 * CLI: `tsx scripts/bundle.ts [--out dist] [service...]` (default: all four into dist/).
 * Writes `<out>/<service>/main.mjs` (plus `main.mjs.LEGAL.txt` when inlined code carries licence
 * comments), and `<out>/healthcheck.mjs`, the images' HEALTHCHECK.
 *
 * What a bundle must not need at runtime, checked when this was written:
 * - pino is used with a destination stream, never with `transport`, so no worker thread ever
 *   loads a file by path (pino's transport code is inlined but unused).
 * - mongodb `require`s its optional native helpers (kerberos, snappy, zstd, client-side
 *   encryption, AWS/GCP credentials, socks) inside try/catch and runs without them: they stay
 *   external, so a bundle neither fails on their absence nor inlines native code.
 * - CommonJS code inlined into ESM still calls `require` for Node built-ins; the banner gives it a
 *   real one (esbuild's stub throws "Dynamic require of ... is not supported"), and `__dirname`
 *   and `__filename`, which ESM lacks: ioredis reads `__dirname/../../package.json` for the
 *   version it reports in CLIENT SETINFO, inside a try/catch that then reports
 *   "error-fetching-version", and names `__dirname` outside one when friendly stacks are on.
 * - No source reads .proto files or package.json at runtime: descriptors are compiled into gen/,
 *   and the one package.json value a service asks for (`npm_package_version`, which npm sets and
 *   an image does not) is written into the bundle here.
 * - better-sqlite3 (the embedded state file, EMBEDDED_STATE=sqlite) is a native module, loaded
 *   with `require` only when a service opens its file: external, and not shipped, so the images
 *   set EMBEDDED_STATE=memory.
 * - session-controller's console directory defaults to a path relative to its source
 *   (`packages/console/dist` of the checkout), which in a bundle points nowhere useful: the
 *   image sets CONSOLE_DIR.
 * test/images/bundle.test.ts checks what a bundle still imports; test/images/distroless.test.ts
 * runs each one in a root that has nothing else.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The four services, in the order the README lists them. */
export const serviceNames = [
  "server-manager",
  "xrdp-integration",
  "session-controller",
  "resource-monitor",
] as const;
export type ServiceName = (typeof serviceNames)[number];

const root = fileURLToPath(new URL("..", import.meta.url));

/** mongodb's optional peers: loaded lazily inside try/catch, absent in the images on purpose. */
const mongodbOptional = [
  "kerberos",
  "snappy",
  "@mongodb-js/zstd",
  "mongodb-client-encryption",
  "@aws-sdk/credential-providers",
  "gcp-metadata",
  "socks",
];

const banner = [
  'import { createRequire as __lucidCreateRequire } from "node:module";',
  'import { dirname as __lucidDirname } from "node:path";',
  'import { fileURLToPath as __lucidFileURLToPath } from "node:url";',
  "const require = __lucidCreateRequire(import.meta.url);",
  "const __filename = __lucidFileURLToPath(import.meta.url);",
  "const __dirname = __lucidDirname(__filename);",
].join("\n");

function isServiceName(s: string): s is ServiceName {
  return (serviceNames as readonly string[]).includes(s);
}

/**
 * Bundles `services/<service>/src/main.ts` into `<outDir>/<service>/main.mjs` (esbuild, one ESM
 * file, Node 22) and resolves with that path. Rejects an unknown service name.
 */
export async function bundleService(service: string, outDir: string): Promise<string> {
  if (!isServiceName(service)) {
    throw new Error(`unknown service "${service}": expected one of ${serviceNames.join(", ")}`);
  }
  const pkg = JSON.parse(readFileSync(join(root, "services", service, "package.json"), "utf8")) as {
    version: string;
  };
  const outfile = resolve(outDir, service, "main.mjs");
  await build({
    entryPoints: [join(root, "services", service, "src", "main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    external: [...mongodbOptional, "better-sqlite3"],
    banner: { js: banner },
    define: { "process.env.npm_package_version": JSON.stringify(pkg.version) },
    legalComments: "external",
    // Readable stack traces in production logs matter more than the few hundred KiB minifying saves.
    minify: false,
    logLevel: "warning",
    absWorkingDir: root,
  });
  return outfile;
}

/**
 * Bundles the images' HEALTHCHECK (`scripts/images/healthcheck.ts`) into `<outDir>/healthcheck.mjs`
 * and resolves with that path. It imports only Node built-ins.
 */
export async function bundleHealthcheck(outDir: string): Promise<string> {
  const outfile = resolve(outDir, "healthcheck.mjs");
  await build({
    entryPoints: [join(root, "scripts", "images", "healthcheck.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    logLevel: "warning",
    absWorkingDir: root,
  });
  return outfile;
}

async function cli(argv: readonly string[]): Promise<void> {
  let out = "dist";
  const wanted: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out") {
      const v = argv[++i];
      if (v === undefined) throw new Error("--out needs a directory");
      out = v;
    } else if (a.startsWith("--out=")) {
      out = a.slice("--out=".length);
    } else if (a.startsWith("-")) {
      throw new Error(
        `unknown option ${a}; usage: tsx scripts/bundle.ts [--out dist] [service...]`,
      );
    } else {
      wanted.push(a);
    }
  }
  for (const s of wanted.length > 0 ? wanted : serviceNames) {
    const path = await bundleService(s, out);
    process.stdout.write(`${path}\n`);
  }
  process.stdout.write(`${await bundleHealthcheck(out)}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`bundle: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
