/**
 * One mesh shared by the tests of a file or a describe: started in beforeAll, closed in afterAll.
 * A missing tool (xrdp, redis-server, FerretDB) is kept and reported by each test that asks for
 * the mesh, which then skips; under CI=true startMesh throws instead and the tests fail.
 *
 * ```ts
 * const fixture = meshFixture({ sessionController: true, xrdpNodes: 1 });
 * it("creates a session", async (ctx) => {
 *   const mesh = fixture.need(ctx);
 *   await mesh.sessionController().createSession({ ... });
 * });
 * ```
 */
import { afterAll, beforeAll } from "vitest";
import { type Mesh, type MeshOptions, startMesh } from "./mesh.js";
import { needOrSkip, type SkipContext } from "./need-or-skip.js";
import { MissingToolError } from "./servers.js";

export interface MeshFixture {
  /** The running mesh; when a tool is missing, reports it and skips the calling test. */
  need(ctx: SkipContext): Mesh;
}

export interface MeshFixtureTimeouts {
  /**
   * How long beforeAll may take to start the mesh, in milliseconds.
   * @default 180000
   */
  readonly startMs?: number;
  /**
   * How long afterAll may take to close it, in milliseconds.
   * @default 60000
   */
  readonly closeMs?: number;
}

/** What a test file adds to a {@link meshFixture}'s start and close. */
export interface MeshFixtureHooks {
  /**
   * Checks the mesh once it started; when it throws, the mesh is closed and beforeAll fails.
   * @default no check
   */
  readonly started?: (mesh: Mesh) => void | Promise<void>;
  /**
   * Runs in afterAll before the mesh closes (e.g. ending what the tests left running).
   * @default nothing
   */
  readonly closing?: () => Promise<void>;
}

/** Registers the beforeAll/afterAll pair of a shared mesh in the current scope. */
export function meshFixture(
  opts: MeshOptions,
  timeouts: MeshFixtureTimeouts = {},
  hooks: MeshFixtureHooks = {},
): MeshFixture {
  let mesh: Mesh | undefined;
  let missing: MissingToolError | undefined;
  beforeAll(async () => {
    try {
      mesh = await startMesh(opts);
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
      missing = e;
      return;
    }
    try {
      await hooks.started?.(mesh);
    } catch (e) {
      await mesh.close();
      mesh = undefined;
      throw e;
    }
  }, timeouts.startMs ?? 180_000);
  afterAll(async () => {
    await hooks.closing?.();
    await mesh?.close();
  }, timeouts.closeMs ?? 60_000);
  return {
    need: (ctx) => needOrSkip(mesh, missing, ctx),
  };
}
