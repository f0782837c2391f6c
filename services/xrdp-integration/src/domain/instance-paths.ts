/** Where an instance's files live: everything carries the instance id, the supervisor's marker. */
import { join } from "node:path";
import { IniValueError } from "./ini-format.js";
import { ValueChecks } from "./value-checks.js";

const check = new ValueChecks(IniValueError);

/** The files of one instance: everything carries the instance id, the supervisor's marker. */
export interface InstancePaths {
  /** `<root>/<id>`, the instance's private directory (0700). */
  readonly dir: string;
  /** `<root>/<id>/xrdp-<id>.ini`, passed as `--config`: its presence in a command line marks the process. */
  readonly xrdpIni: string;
  /** `<root>/<id>/xrdp-<id>.log`, the LogFile of xrdp.ini. */
  readonly logFile: string;
  /** `<root>/<id>/tls`, where generated certificate and key go. */
  readonly tlsDir: string;
}

/**
 * The paths of an instance's files under `rootDir`.
 *
 * @throws IniValueError when `rootDir` is not a safe absolute path or `instanceId` not a UUID.
 */
export function instancePaths(rootDir: string, instanceId: string): InstancePaths {
  const root = check.absolutePath("root_dir", rootDir);
  const id = check.uuid("instance_id", instanceId);
  const dir = check.absolutePath("instance_dir", join(root, id));
  return {
    dir,
    xrdpIni: check.absolutePath("config_path", join(dir, `xrdp-${id}.ini`)),
    logFile: check.absolutePath("log_file", join(dir, `xrdp-${id}.log`)),
    tlsDir: check.absolutePath("tls_dir", join(dir, "tls")),
  };
}
