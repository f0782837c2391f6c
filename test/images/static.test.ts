/**
 * The image definitions, checked without a Docker engine: docker-bake.hcl parsed with
 * @cdktf/hcl2json (HashiCorp's HCL parser compiled to WebAssembly), the Dockerfile linted with
 * dockerfile-utils and followed stage by stage to its pinned base images, .dockerignore and the
 * workflow that runs bake on a machine with Docker.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "@cdktf/hcl2json";
import { repoRoot } from "@lucid-rdp/testing";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import {
  allOf,
  envOf,
  execForm,
  lastOf,
  readDockerfile,
  stageChain,
} from "./support/dockerfile.js";

const services = [
  "server-manager",
  "session-controller",
  "resource-monitor",
  "xrdp-integration",
] as const;
const distroless = ["server-manager", "session-controller", "resource-monitor"] as const;
const ports: Record<(typeof services)[number], string> = {
  "server-manager": "8081",
  "session-controller": "8082",
  "resource-monitor": "8090",
  "xrdp-integration": "3389",
};

type Attrs = Record<string, unknown>;
interface BakeJson {
  variable?: Record<string, [{ default?: string }]>;
  group?: Record<string, [{ targets: string[] }]>;
  target?: Record<string, [Attrs]>;
}

const bake = (await parse(
  "docker-bake.hcl",
  readFileSync(join(repoRoot, "docker-bake.hcl"), "utf8"),
)) as BakeJson;
const vars = Object.fromEntries(
  Object.entries(bake.variable ?? {}).map(([k, [v]]) => [k, v.default ?? ""]),
);

/**
 * A target as bake resolves it with the variables' defaults: its `inherits` applied first, maps
 * (labels, args) merged, anything else replaced by the target's own value.
 */
function resolveTarget(name: string, seen: string[] = []): Attrs {
  const own = bake.target?.[name]?.[0];
  if (own === undefined) throw new Error(`docker-bake.hcl has no target "${name}"`);
  if (seen.includes(name)) throw new Error(`target "${name}" inherits itself`);
  const out: Attrs = {};
  const parents = (own.inherits as string[] | undefined) ?? [];
  for (const layer of [...parents.map((p) => resolveTarget(p, [...seen, name])), own]) {
    for (const [k, v] of Object.entries(layer)) {
      if (k === "inherits") continue;
      const value = resolveValue(v);
      out[k] =
        typeof value === "object" && value !== null && !Array.isArray(value)
          ? { ...(out[k] as object | undefined), ...value }
          : value;
    }
  }
  return out;
}

function resolveValue(v: unknown): unknown {
  // hcl2json leaves `${NAME}` interpolations in strings for the caller to fill in.
  if (typeof v === "string") {
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (all, name: string) => vars[name] ?? all);
  }
  if (Array.isArray(v)) return v.map(resolveValue);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveValue(x)]));
  }
  return v;
}

const dockerfilePath = join(repoRoot, "Dockerfile");
const df = readDockerfile(dockerfilePath);
const digestPinned = /^[a-z0-9.-]+\.[a-z]+\/[a-z0-9._/-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/;

describe("docker-bake.hcl", () => {
  it("builds the four services in the default group, each for linux/arm64 and linux/amd64", () => {
    expect(bake.group?.default?.[0]?.targets).toEqual([...services]);
    for (const s of services) {
      const t = resolveTarget(s);
      expect(t.platforms, s).toEqual(expect.arrayContaining(["linux/arm64", "linux/amd64"]));
    }
  });

  it("shares a hidden target that every service inherits", () => {
    const groups = Object.values(bake.group ?? {}).flatMap(([g]) => g.targets);
    for (const s of services) {
      const parents = bake.target?.[s]?.[0]?.inherits as string[];
      expect(parents, s).toEqual(["_common"]);
    }
    expect(groups).not.toContain("_common");
    expect(bake.target?._common?.[0]?.platforms).toEqual(["linux/arm64", "linux/amd64"]);
  });

  it("names the images after the seeds, with the seeds' other names as extra tags", () => {
    expect(vars.REGISTRY).toBe("docker.io/pickme");
    expect(Object.keys(vars)).toContain("TAG");
    const tags = Object.fromEntries(services.map((s) => [s, resolveTarget(s).tags]));
    expect(tags).toEqual({
      "server-manager": ["docker.io/pickme/lucid-rdp-server-manager:latest"],
      "session-controller": [
        "docker.io/pickme/lucid-session-controller:latest",
        "docker.io/pickme/lucid-rdp-controller:latest",
      ],
      "resource-monitor": ["docker.io/pickme/lucid-resource-monitor:latest"],
      "xrdp-integration": [
        "docker.io/pickme/lucid-xrdp-integration:latest",
        "docker.io/pickme/lucid-rdp-xrdp:latest",
      ],
    });
  });

  it("labels, caches and attests every image", () => {
    for (const s of services) {
      const t = resolveTarget(s);
      const labels = t.labels as Record<string, string>;
      for (const key of ["source", "revision", "version", "title"]) {
        expect(Object.keys(labels), s).toContain(`org.opencontainers.image.${key}`);
      }
      expect(labels["org.opencontainers.image.version"]).toBe("latest");
      const image = (t.tags as string[])[0]!.replace(/:[^:/]+$/, "");
      expect(t["cache-from"], s).toEqual([`type=registry,ref=${image}:buildcache`]);
      expect(t["cache-to"], s).toEqual([`type=registry,ref=${image}:buildcache,mode=max`]);
      expect(t.attest, s).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^type=provenance\b/),
          expect.stringMatching(/^type=sbom\b/),
        ]),
      );
    }
  });

  it("points every target at a Dockerfile that exists and a stage in it", () => {
    for (const s of services) {
      const t = resolveTarget(s);
      const file = join(repoRoot, String(t.context ?? "."), String(t.dockerfile ?? "Dockerfile"));
      expect(existsSync(file), `${s}: ${file}`).toBe(true);
      expect(t.target, s).toBe(s);
      expect(
        readDockerfile(file).stages.map((st) => st.name),
        s,
      ).toContain(s);
    }
  });
});

describe("Dockerfile", () => {
  it("passes dockerfile-utils' linter, which does flag a broken Dockerfile", () => {
    const text = readFileSync(dockerfilePath, "utf8");
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    expect(problems).toEqual([]);
    const broken = validate("FROM\nHEALTHCHECK --interval=10 CMD\nEXPOSE x\n");
    expect(broken.length).toBeGreaterThanOrEqual(3);
  });

  it("pins every base image by digest; the distroless ones to nodejs22-debian13:nonroot", () => {
    const stageNames = new Set(df.stages.map((s) => s.name));
    const bases = df.stages.map((s) => s.from).filter((f) => !stageNames.has(f.toLowerCase()));
    expect(bases.length).toBeGreaterThanOrEqual(3);
    for (const base of bases) expect(base).toMatch(digestPinned);
    for (const s of distroless) {
      expect(stageChain(df, s).base, s).toMatch(
        /^gcr\.io\/distroless\/nodejs22-debian13:nonroot@sha256:[0-9a-f]{64}$/,
      );
    }
    expect(stageChain(df, "xrdp-integration").base).toMatch(
      /^docker\.io\/library\/debian:trixie-slim@sha256:[0-9a-f]{64}$/,
    );
  });

  it("copies every workspace's package.json before npm ci, so the lockfile matches", () => {
    const build = df.stages.find((s) => s.name === "build")!;
    const ci = build.instructions.findIndex((i) => i.keyword === "RUN" && /npm ci\b/.test(i.args));
    const copied = build.instructions
      .slice(0, ci)
      .filter((i) => i.keyword === "COPY")
      .flatMap((i) => {
        const words = i.args.split(/\s+/);
        const dest = words.at(-1)!;
        return words
          .slice(0, -1)
          .map((src) => (dest === "./" ? src : `${dest}${src.split("/").at(-1)}`));
      });
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      workspaces: string[];
    };
    const manifests = pkg.workspaces.flatMap((w) =>
      w.endsWith("/*")
        ? readdirSync(join(repoRoot, w.slice(0, -2)), { withFileTypes: true })
            .filter(
              (d) =>
                d.isDirectory() &&
                existsSync(join(repoRoot, w.slice(0, -2), d.name, "package.json")),
            )
            .map((d) => `${w.slice(0, -2)}/${d.name}/package.json`)
        : [`${w}/package.json`],
    );
    expect(manifests.length).toBeGreaterThanOrEqual(7);
    for (const m of ["package.json", "package-lock.json", ...manifests])
      expect(copied).toContain(m);
  });

  it("bundles with esbuild once, in a stage on the build platform", () => {
    const build = df.stages.find((s) => s.name === "build")!;
    const from = readFileSync(dockerfilePath, "utf8")
      .split("\n")
      .find((l) => /^FROM\b.*\bAS build$/i.test(l));
    expect(from).toMatch(/--platform=\$BUILDPLATFORM/);
    expect(build.from).toMatch(/^docker\.io\/library\/node:22-/);
    const runs = build.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runs.join("\n")).toMatch(/npm ci\b/);
    expect(runs.join("\n")).toMatch(/scripts\/bundle\.ts --out \/out/);
    expect(runs.join("\n")).toMatch(/scripts\/build-console\.ts \/out\/console/);
  });

  it("runs the distroless services as 65532 with no shell: exec forms, no RUN, a gRPC health check", () => {
    for (const s of distroless) {
      const { stages } = stageChain(df, s);
      expect(allOf(stages, "RUN"), s).toEqual([]);
      expect(lastOf(stages, "USER")?.args, s).toBe("65532:65532");
      expect(execForm(lastOf(stages, "ENTRYPOINT"), "ENTRYPOINT"), s).toEqual(["/nodejs/bin/node"]);
      expect(execForm(lastOf(stages, "CMD"), "CMD"), s).toEqual(["/app/main.mjs"]);
      expect(execForm(lastOf(stages, "HEALTHCHECK"), "HEALTHCHECK"), s).toEqual([
        "/nodejs/bin/node",
        "/app/healthcheck.mjs",
      ]);
      const env = envOf(stages);
      expect(env.PORT, s).toBe(ports[s]);
      expect(env.HOST, s).toBe("0.0.0.0");
      const copies = allOf(stages, "COPY").map((i) => i.args);
      expect(copies, s).toContain(`--from=build /out/${s}/main.mjs /app/main.mjs`);
      expect(copies, s).toContain("--from=build /out/healthcheck.mjs /app/healthcheck.mjs");
    }
  });

  it("gives session-controller the console and tells it where with CONSOLE_DIR", () => {
    const { stages } = stageChain(df, "session-controller");
    expect(allOf(stages, "COPY").map((i) => i.args)).toContain(
      "--from=build /out/console /app/console",
    );
    expect(envOf(stages).CONSOLE_DIR).toBe("/app/console");
  });

  it("runs xrdp-integration under tini, with Node 22 from the official image and bounded capabilities", () => {
    const { stages } = stageChain(df, "xrdp-integration");
    const entry = execForm(lastOf(stages, "ENTRYPOINT"), "ENTRYPOINT");
    expect(entry.slice(0, 3)).toEqual(["/usr/bin/tini", "--", "/usr/bin/setpriv"]);
    expect(entry.at(-1)).toBe("/usr/local/bin/node");
    const bounding = entry.find((a) => a.startsWith("--bounding-set="));
    expect(bounding?.split("=")[1]?.split(",")[0]).toBe("-all");
    expect(bounding).not.toMatch(/net_bind_service|net_raw|mknod|sys_chroot/);
    // SYS_ADMIN only for the mount namespace of xrdp 0.10's socket directory per instance.
    expect(bounding).toMatch(/\+sys_admin/);
    expect(execForm(lastOf(stages, "CMD"), "CMD")).toEqual(["/app/main.mjs"]);
    expect(execForm(lastOf(stages, "HEALTHCHECK"), "HEALTHCHECK")).toEqual([
      "/usr/local/bin/node",
      "/app/healthcheck.mjs",
    ]);
    const run = allOf(stages, "RUN")
      .map((i) => i.args)
      .join("\n");
    for (const pkg of ["xrdp", "xorgxrdp", "tini"]) expect(run).toMatch(new RegExp(`\\b${pkg}\\b`));
    const nodeStage = df.stages.find((s) => s.name === "node22");
    expect(nodeStage?.from).toMatch(/^docker\.io\/library\/node:22-trixie-slim@sha256:/);
    expect(allOf(stages, "COPY").map((i) => i.args)).toContain(
      "--from=node22 /usr/local/bin/node /usr/local/bin/node",
    );
    expect(envOf(stages).PORT).toBe(ports["xrdp-integration"]);
  });
});

describe(".dockerignore", () => {
  /** Docker's matching, enough for the patterns used: `**`, `*`, a match excludes what is under it. */
  const patterns = readFileSync(join(repoRoot, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const excluded = (path: string) => {
    let out = false;
    for (const raw of patterns) {
      const negate = raw.startsWith("!");
      const p = negate ? raw.slice(1) : raw;
      const re = new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*\*\//g, "%%")
          .replace(/\*\*/g, ".*")
          .replace(/\*/g, "[^/]*")
          .replace(/\?/g, "[^/]")
          .replace(/%%/g, "(.*/)?")}(/.*)?$`,
      );
      if (re.test(path)) out = !negate;
    }
    return out;
  };

  it("keeps dependencies, VCS data and outputs out of the context, and the build's inputs in", () => {
    for (const p of [
      "node_modules/esbuild/package.json",
      "packages/runtime/node_modules/x/index.js",
      ".git/HEAD",
      "dist/server-manager/main.mjs",
      ".tools/bin/grpcurl",
      "packages/console/dist/app.js",
      "services/server-manager/test/server-lifecycle.test.ts",
    ]) {
      expect(excluded(p), p).toBe(true);
    }
    for (const p of [
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "scripts/bundle.ts",
      "scripts/build-console.ts",
      "scripts/images/healthcheck.ts",
      "gen/src/index.ts",
      "packages/runtime/src/server.ts",
      "packages/console/src/main.ts",
      ...services.map((s) => `services/${s}/src/main.ts`),
      ...services.map((s) => `services/${s}/package.json`),
    ]) {
      expect(excluded(p), p).toBe(false);
    }
  });
});

describe(".github/workflows/images.yml", () => {
  it("bakes docker-bake.hcl with docker/bake-action and smoke-tests the images", () => {
    const wf = readFileSync(join(repoRoot, ".github/workflows/images.yml"), "utf8");
    expect(wf).toMatch(/uses: docker\/bake-action@v\d+/);
    expect(wf).toMatch(/files: docker-bake\.hcl/);
    expect(wf).toMatch(/scripts\/images\/smoke-test\.sh/);
    expect(existsSync(join(repoRoot, "scripts/images/smoke-test.sh"))).toBe(true);
  });
});
