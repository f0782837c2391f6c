/** The installed xrdp's version, as `xrdp --version` prints it. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

/** The version of the xrdp at `bin` ("0.9.21"), or undefined when it is missing or says none. */
export async function xrdpVersion(bin: string | undefined): Promise<string | undefined> {
  if (bin === undefined) return undefined;
  try {
    const { stdout } = await promisify(execFile)(bin, ["--version"], { timeout: 5_000 });
    return /xrdp\s+([0-9][0-9A-Za-z.~+-]*)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}
