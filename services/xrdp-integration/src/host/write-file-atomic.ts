/** The atomic file writer the INI files, the TLS material and the sesman files share. */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically: a new temp file in the same directory (O_EXCL, so never a
 * symlink planted there), chmod to `mode` (the umask does not apply) before anything is written,
 * fsync, rename over `path`, fsync of the directory. Readers see the old file or the new one,
 * never a part; on failure the temp file is removed and `path` is untouched.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number,
  /** `durable: false` skips both fsyncs, for a file that is rewritten after a crash anyway. */
  opts: { durable?: boolean } = {},
): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(8).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  if (!durable) return;
  const dirHandle = await open(dir, "r");
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
