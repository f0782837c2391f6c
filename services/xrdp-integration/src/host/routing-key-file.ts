/**
 * The node's routing key (`<state dir>/routing-key`, 32 random bytes, 0600): what routing tokens
 * are derived from (domain/routing-token.ts). Made once, on the first start, and kept, so that the
 * tokens of instances a restart adopts stay valid. Deleting it revokes every token of the node.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { routingKeyBytes } from "../domain/routing-token.js";

/** Where the key lives under the state directory. */
export function routingKeyPath(stateDir: string): string {
  return join(stateDir, "routing-key");
}

/**
 * Reads the key, or makes it when there is none. Made atomically: a complete temp file is linked
 * into place (link fails when the key exists), so two starts at once agree on one key and a crash
 * never leaves half a key. A key readable by others, or of the wrong length, is refused: it may
 * have leaked, or be something else.
 */
export async function loadOrCreateRoutingKey(stateDir: string): Promise<Buffer> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const path = routingKeyPath(stateDir);
  try {
    return await readKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const temp = `${path}.${randomBytes(8).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(randomBytes(routingKeyBytes));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    await rm(temp, { force: true });
  }
  return readKey(path);
}

async function readKey(path: string): Promise<Buffer> {
  const info = await stat(path);
  if ((info.mode & 0o077) !== 0) {
    throw new Error(
      `${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}): delete it to make a new key`,
    );
  }
  const key = await readFile(path);
  if (key.length !== routingKeyBytes) {
    throw new Error(
      `${path} holds ${key.length} bytes, not ${routingKeyBytes}: delete it to make a new key`,
    );
  }
  return key;
}
