/**
 * Instance folders no record names: left by a start that died (or whose insert failed) before
 * its record was stored, and never retried. They hold a private key, so they do not linger.
 */
import { readdir, rm } from "node:fs/promises";

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface OrphanFolderOptions {
  readonly stateDir: string;
  /** True while this life of the service works on the instance (a start under way). */
  readonly busy: (id: string) => boolean;
  /** Whether the store has a record of the instance, in any state. */
  readonly stored: (id: string) => Promise<boolean>;
}

/** Removes the instance folders of `stateDir` that no record names; returns their ids. */
export async function removeOrphanFolders(opts: OrphanFolderOptions): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(opts.stateDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const id of names.filter((n) => uuid.test(n))) {
    if (opts.busy(id) || (await opts.stored(id)) || opts.busy(id)) continue;
    removed.push(id);
    await rm(`${opts.stateDir}/${id}`, { recursive: true, force: true });
  }
  return removed;
}
