import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeSesmanIni } from "../host/ini-files.js";
import { IniValueError } from "./ini-format.js";
import { iniError, injections, settings, wholeValues } from "./ini-test-fixtures.js";
import { renderSesmanIni, type SesmanIniInput } from "./sesman-ini.js";
import type { EffectiveSettings } from "./xrdp-settings.js";

const sesmanInput: SesmanIniInput = {
  settings,
  logFile: "/var/lib/lucid-rdp/sesman.log",
};

/** String inputs of renderSesmanIni and the field each error must name. */
const sesmanStringFields: [field: string, base: string, apply: (v: string) => SesmanIniInput][] = [
  ["log_file", sesmanInput.logFile, (v) => ({ ...sesmanInput, logFile: v })],
  ["terminal_server_users", "tsusers", (v) => ({ ...sesmanInput, terminalServerUsers: v })],
  ["terminal_server_admins", "tsadmins", (v) => ({ ...sesmanInput, terminalServerAdmins: v })],
  ["user_window_manager", "startwm.sh", (v) => ({ ...sesmanInput, userWindowManager: v })],
  [
    "default_window_manager",
    "/etc/xrdp/startwm.sh",
    (v) => ({ ...sesmanInput, defaultWindowManager: v }),
  ],
  ["reconnect_script", "/etc/xrdp/reconnectwm.sh", (v) => ({ ...sesmanInput, reconnectScript: v })],
  ["policy", "Default", (v) => ({ ...sesmanInput, policy: v as "Default" })],
  [
    "restrict_outbound_clipboard[0]",
    "none",
    (v) => ({ ...sesmanInput, restrictOutboundClipboard: [v as "none"] }),
  ],
  [
    "xorg_params[2]",
    "xrdp/xorg.conf",
    (v) => ({ ...sesmanInput, xorgParams: ["Xorg", "-config", v] }),
  ],
  ["xvnc_params[0]", "Xvnc", (v) => ({ ...sesmanInput, xvncParams: [v, "-bs"] })],
  [
    "session_variables.PULSE_SCRIPT",
    "/etc/xrdp/pulse/default.pa",
    (v) => ({ ...sesmanInput, sessionVariables: { PULSE_SCRIPT: v } }),
  ],
  [
    "session_variables",
    "PULSE_SCRIPT",
    (v) => ({ ...sesmanInput, sessionVariables: { [v]: "/etc/xrdp/pulse/default.pa" } }),
  ],
];

describe("renderSesmanIni()", () => {
  it("renders the host's security and session limits", () => {
    const lines = renderSesmanIni(sesmanInput).split("\n");
    for (const expected of [
      "[Globals]",
      "ListenAddress=127.0.0.1",
      "ListenPort=3350",
      "AllowRootLogin=false",
      "MaxLoginRetry=3",
      "TerminalServerUsers=tsusers",
      "AlwaysGroupCheck=false",
      "RestrictOutboundClipboard=none",
      "MaxSessions=10",
      "IdleTimeLimit=3600",
      "KillDisconnected=true",
      "DisconnectedTimeLimit=28800",
      "Policy=Default",
      "LogFile=/var/lib/lucid-rdp/sesman.log",
      "param=/usr/lib/xorg/Xorg",
      "param=.xorgxrdp.%s.log",
      "param=Xvnc",
      "PULSE_SCRIPT=/etc/xrdp/pulse/default.pa",
    ]) {
      expect(lines).toContain(expected);
    }
  });

  it("maps kill-disconnected and the disconnected limit onto xorgxrdp's rules", () => {
    const render = (killDisconnected: boolean, disconnectedTimeLimitSec: number) =>
      renderSesmanIni({
        ...sesmanInput,
        settings: { ...settings, killDisconnected, disconnectedTimeLimitSec },
      });
    expect(render(true, 600)).toContain("KillDisconnected=true\nDisconnectedTimeLimit=0\n");
    expect(render(false, 600)).toContain("KillDisconnected=true\nDisconnectedTimeLimit=600\n");
    expect(render(false, 0)).toContain("KillDisconnected=false\nDisconnectedTimeLimit=0\n");
  });

  it.each(sesmanStringFields)("rejects every injection into %s", (field, base, apply) => {
    for (const [label, payload] of injections) {
      for (const value of [`${base}${payload}`, `${payload}${base}`]) {
        expect(iniError(() => renderSesmanIni(apply(value))).field, label).toBe(field);
      }
    }
    for (const [label, value] of wholeValues) {
      expect(iniError(() => renderSesmanIni(apply(value))).field, label).toBe(field);
    }
  });

  it("rejects root login, sessions and limits of the wrong type or range", () => {
    const bad = (overrides: Record<string, unknown>) => ({
      ...sesmanInput,
      settings: { ...settings, ...overrides } as EffectiveSettings,
    });
    expect(iniError(() => renderSesmanIni(bad({ allowRootLogin: "false" }))).field).toBe(
      "settings.allow_root_login",
    );
    expect(iniError(() => renderSesmanIni(bad({ maxSessions: 0 }))).field).toBe(
      "settings.max_sessions",
    );
    expect(iniError(() => renderSesmanIni(bad({ idleTimeLimitSec: -5 }))).field).toBe(
      "settings.idle_time_limit",
    );
    expect(iniError(() => renderSesmanIni({ ...sesmanInput, listenPort: 70_000 })).field).toBe(
      "listen_port",
    );
    expect(
      iniError(() =>
        renderSesmanIni({ ...sesmanInput, restrictInboundClipboard: ["none", "text"] }),
      ).field,
    ).toBe("restrict_inbound_clipboard");
  });
});

describe("writeSesmanIni()", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ini-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("creates no file, not even a temp file, when any value is rejected", async () => {
    const sesmanPath = join(dir, "sesman.ini");
    for (const [field, base, apply] of sesmanStringFields) {
      for (const [, payload] of injections) {
        await expect(
          writeSesmanIni(sesmanPath, apply(`${base}${payload}`)),
          field,
        ).rejects.toBeInstanceOf(IniValueError);
      }
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
