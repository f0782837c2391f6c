/**
 * Writing the instances' INI files: rendered and checked in full by the domain's renderers
 * (domain/xrdp-ini.ts, domain/sesman-ini.ts) before the disk is touched, then written by
 * write-to-temp + rename, mode 0600.
 */
import { IniValueError } from "../domain/ini-format.js";
import { renderSesmanIni, type SesmanIniInput } from "../domain/sesman-ini.js";
import { ValueChecks } from "../domain/value-checks.js";
import { renderXrdpIni, type XrdpIniInput } from "../domain/xrdp-ini.js";
import { writeFileAtomic } from "./write-file-atomic.js";

const check = new ValueChecks(IniValueError);

/**
 * Renders an xrdp.ini and writes it to `path` (absolute) by write-to-temp + rename, mode 0600.
 * The whole file is rendered and checked before the disk is touched.
 *
 * @throws IniValueError before anything is written.
 */
export async function writeXrdpIni(path: string, input: XrdpIniInput): Promise<void> {
  const target = check.absolutePath("config_path", path);
  const text = renderXrdpIni(input);
  await writeFileAtomic(target, text, 0o600);
}

/**
 * Renders a sesman.ini and writes it to `path` (absolute) by write-to-temp + rename, mode 0600.
 *
 * @throws IniValueError before anything is written.
 */
export async function writeSesmanIni(path: string, input: SesmanIniInput): Promise<void> {
  const target = check.absolutePath("config_path", path);
  const text = renderSesmanIni(input);
  await writeFileAtomic(target, text, 0o600);
}
