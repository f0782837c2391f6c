/**
 * One FerretDB (MongoDB wire) for a test file, started before its tests and closed after them,
 * with the services the file spawned killed first. `missing` is set when FerretDB is not installed
 * (startMongoWire throws under CI=true instead).
 */
import {
  type ChildServer,
  MissingToolError,
  type RealServer,
  startMongoWire,
} from "@lucid-rdp/testing";
import { afterAll, beforeAll } from "vitest";

export interface FileMongo {
  /** The running FerretDB; undefined while missing. */
  readonly server: () => RealServer | undefined;
  readonly missing: () => MissingToolError | undefined;
  /** Services killed (SIGKILL) when the file ends. */
  readonly running: ChildServer[];
}

/** Registers the file's beforeAll/afterAll and returns their FerretDB. */
export function mongoWireForFile(): FileMongo {
  let mongo: RealServer | undefined;
  let missing: MissingToolError | undefined;
  const running: ChildServer[] = [];
  beforeAll(async () => {
    try {
      mongo = await startMongoWire();
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
      missing = e;
    }
  }, 60_000);
  afterAll(async () => {
    for (const s of running) s.kill("SIGKILL");
    await mongo?.close();
  });
  return { server: () => mongo, missing: () => missing, running };
}
