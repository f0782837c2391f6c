import { describe, expect, it } from "vitest";
import { iniError, instanceDir, instanceId } from "./ini-test-fixtures.js";
import { instancePaths } from "./instance-paths.js";

describe("instancePaths()", () => {
  it("puts the instance id into the config and log file paths", () => {
    expect(instancePaths("/var/lib/lucid-rdp/instances", instanceId)).toEqual({
      dir: instanceDir,
      xrdpIni: `${instanceDir}/xrdp-${instanceId}.ini`,
      logFile: `${instanceDir}/xrdp-${instanceId}.log`,
      tlsDir: `${instanceDir}/tls`,
    });
  });

  it("rejects a relative root and a non-UUID id", () => {
    expect(iniError(() => instancePaths("var/lib", instanceId)).field).toBe("root_dir");
    expect(iniError(() => instancePaths("/var/lib", "../x")).field).toBe("instance_id");
  });
});
