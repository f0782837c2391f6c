import { describe, expect, it } from "vitest";
import { resolveSettings, validateServiceDefaults } from "./resolve-settings.js";
import { SettingsPolicyError, SettingsValueError } from "./settings-errors.js";
import {
  type CryptLevel,
  defaultFloor,
  defaultSettings,
  defaultTlsCiphers,
  type SecurityFloor,
  type SecurityLayer,
  type TlsProtocol,
  type XrdpSettings,
} from "./xrdp-settings.js";

const floor = (overrides: Partial<SecurityFloor> = {}): SecurityFloor => ({
  ...defaultFloor,
  ...overrides,
});

/** Settings tighter than the default floor on every field they set. */
const tighterThanFloor: XrdpSettings = {
  cryptLevel: "fips",
  tlsProtocols: ["TLSv1.3"],
  tlsCiphers: ["ECDHE-RSA-AES256-GCM-SHA384"],
  maxBpp: 16,
  maxSessions: 2,
  idleTimeLimitSec: 60,
  disconnectedTimeLimitSec: 120,
  killDisconnected: true,
  clipboard: false,
  audio: false,
  allowMultimon: false,
};

/** Runs resolveSettings and returns the error it throws. */
function rejection(requested: XrdpSettings, f: SecurityFloor = defaultFloor): Error {
  try {
    resolveSettings(requested, defaultSettings, f);
  } catch (error) {
    return error as Error;
  }
  throw new Error("resolveSettings accepted the settings");
}

function policyError(requested: XrdpSettings, f?: SecurityFloor): SettingsPolicyError {
  const error = rejection(requested, f);
  expect(error).toBeInstanceOf(SettingsPolicyError);
  return error as SettingsPolicyError;
}

describe("resolveSettings()", () => {
  it("takes the secure defaults for empty settings", () => {
    expect(resolveSettings({}, defaultSettings, defaultFloor)).toEqual({
      securityLayer: "tls",
      cryptLevel: "high",
      tlsProtocols: ["TLSv1.2", "TLSv1.3"],
      tlsCiphers: [...defaultTlsCiphers],
      tlsCertPath: "",
      tlsKeyPath: "",
      maxBpp: 32,
      maxSessions: 10,
      allowRootLogin: false,
      idleTimeLimitSec: 3600,
      disconnectedTimeLimitSec: 28_800,
      killDisconnected: false,
      allowMultimon: true,
      clipboard: true,
      driveRedirection: false,
      audio: true,
    });
  });

  it("treats proto zero values as unset", () => {
    const effective = resolveSettings(
      {
        tlsProtocols: [],
        tlsCiphers: [],
        tlsCertPath: "",
        tlsKeyPath: "",
        maxBpp: 0,
        maxSessions: 0,
      },
      defaultSettings,
      defaultFloor,
    );
    expect(effective).toEqual(resolveSettings({}, defaultSettings, defaultFloor));
  });

  it("accepts settings tighter than the floor", () => {
    const { allowMultimon: _, ...tighter } = tighterThanFloor;
    const effective = resolveSettings(tighterThanFloor, defaultSettings, defaultFloor);
    expect(effective).toMatchObject(tighter);
  });

  it("orders TLS protocols oldest first", () => {
    const effective = resolveSettings(
      { tlsProtocols: ["TLSv1.3", "TLSv1.2"] },
      defaultSettings,
      defaultFloor,
    );
    expect(effective.tlsProtocols).toEqual(["TLSv1.2", "TLSv1.3"]);
  });

  it("rejects security layer rdp with a TLS-only floor, naming the field and the floor", () => {
    const error = policyError({ securityLayer: "rdp" });
    expect(error.field).toBe("settings.security_layer");
    expect(error.floor).toContain("allowed security layers: tls");
    expect(error.message).toContain("looser than the security floor");
  });

  it("rejects negotiate unless the floor allows rdp too", () => {
    expect(policyError({ securityLayer: "negotiate" }).field).toBe("settings.security_layer");
    const onlyNegotiate = floor({ allowedSecurityLayers: ["tls", "negotiate"] });
    expect(policyError({ securityLayer: "negotiate" }, onlyNegotiate).field).toBe(
      "settings.security_layer",
    );
    const withRdp = floor({ allowedSecurityLayers: ["tls", "negotiate", "rdp"] });
    expect(
      resolveSettings({ securityLayer: "negotiate" }, defaultSettings, withRdp).securityLayer,
    ).toBe("negotiate");
  });

  it("rejects a crypt level below the floor's minimum", () => {
    for (const cryptLevel of ["low", "medium"] as CryptLevel[]) {
      const error = policyError({ cryptLevel });
      expect(error.field).toBe("settings.crypt_level");
      expect(error.floor).toBe("minimum crypt level: high");
    }
  });

  it("accepts TLSv1.3 alone when the floor's minimum is TLSv1.3 but rejects TLSv1.2 then", () => {
    const tls13 = floor({ minTlsProtocol: "TLSv1.3" });
    expect(
      resolveSettings({ tlsProtocols: ["TLSv1.3"] }, defaultSettings, tls13).tlsProtocols,
    ).toEqual(["TLSv1.3"]);
    const error = policyError({ tlsProtocols: ["TLSv1.2", "TLSv1.3"] }, tls13);
    expect(error.field).toBe("settings.tls_protocols[0]");
    expect(error.floor).toBe("minimum TLS protocol: TLSv1.3");
  });

  it("says when a service default is what violates the floor", () => {
    const error = policyError({}, floor({ minTlsProtocol: "TLSv1.3" }));
    expect(error.message).toContain("(the service default)");
  });

  it("cannot add TLS versions older than 1.2", () => {
    for (const old of ["TLSv1.1", "TLSv1", "SSLv3", "TLSv1.2, TLSv1.1"]) {
      const error = rejection({ tlsProtocols: [old as TlsProtocol] });
      expect(error).toBeInstanceOf(SettingsValueError);
      expect((error as SettingsValueError).field).toBe("settings.tls_protocols[0]");
    }
    expect(rejection({ tlsProtocols: ["TLSv1.2", "TLSv1.2"] })).toBeInstanceOf(SettingsValueError);
    expect(
      rejection({ tlsProtocols: ["TLSv1.2", "TLSv1.3", "TLSv1.3"] as TlsProtocol[] }),
    ).toBeInstanceOf(SettingsValueError);
  });

  it("rejects allowRootLogin true when the floor forbids it", () => {
    const error = policyError({ allowRootLogin: true });
    expect(error.field).toBe("settings.allow_root_login");
    expect(error.floor).toBe("root login is not allowed");
    expect(
      resolveSettings({ allowRootLogin: true }, defaultSettings, floor({ allowRootLogin: true }))
        .allowRootLogin,
    ).toBe(true);
  });

  it("rejects ciphers outside the allowlist, naming the item", () => {
    const error = policyError({
      tlsCiphers: ["ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA"],
    });
    expect(error.field).toBe("settings.tls_ciphers[1]");
    expect(error.floor).toContain("allowed ciphers: ECDHE-ECDSA-AES256-GCM-SHA384:");
    // Cipher-string syntax is not a name at all.
    for (const bad of ["HIGH:!aNULL", "ALL", "!RC4", "ECDHE+AESGCM", "", "a".repeat(65)]) {
      const e = rejection({ tlsCiphers: [bad] });
      if (e instanceof SettingsValueError) {
        expect(e.field).toBe("settings.tls_ciphers[0]");
      } else {
        expect(e).toBeInstanceOf(SettingsPolicyError);
      }
    }
    expect(rejection({ tlsCiphers: Array(33).fill("ECDHE-RSA-AES128-GCM-SHA256") })).toBeInstanceOf(
      SettingsValueError,
    );
  });

  it("rejects maxSessions above the floor's cap", () => {
    const error = policyError({ maxSessions: 51 });
    expect(error.field).toBe("settings.max_sessions");
    expect(error.floor).toBe("at most 50 sessions per instance");
    expect(rejection({ maxSessions: 101 })).toBeInstanceOf(SettingsValueError);
    expect(rejection({ maxSessions: 1.5 })).toBeInstanceOf(SettingsValueError);
  });

  it("rejects no idle limit when the floor forbids it, and limits above the floor", () => {
    const none = policyError({ idleTimeLimitSec: 0 });
    expect(none.field).toBe("settings.idle_time_limit");
    expect(none.floor).toContain("a limit is required");
    expect(policyError({ idleTimeLimitSec: 86_401 }).field).toBe("settings.idle_time_limit");
    const noLimitAllowed = floor({ allowNoIdleTimeLimit: true });
    expect(
      resolveSettings({ idleTimeLimitSec: 0 }, defaultSettings, noLimitAllowed).idleTimeLimitSec,
    ).toBe(0);
    expect(rejection({ idleTimeLimitSec: -1 })).toBeInstanceOf(SettingsValueError);
    expect(rejection({ idleTimeLimitSec: 604_801 })).toBeInstanceOf(SettingsValueError);
  });

  it("rejects no disconnected limit when the floor forbids it", () => {
    expect(policyError({ disconnectedTimeLimitSec: 0 }).field).toBe(
      "settings.disconnected_time_limit",
    );
    expect(
      policyError({ disconnectedTimeLimitSec: 7200 }, floor({ maxDisconnectedTimeLimitSec: 3600 }))
        .floor,
    ).toBe("at most 3600 s");
  });

  it("rejects keeping disconnected sessions when the floor requires killing them", () => {
    const error = policyError({}, floor({ requireKillDisconnected: true }));
    expect(error.field).toBe("settings.kill_disconnected");
  });

  it("rejects channels the floor forbids", () => {
    const locked = floor({
      allowClipboard: false,
      allowDriveRedirection: false,
      allowAudio: false,
    });
    expect(policyError({ clipboard: true }, locked).field).toBe("settings.clipboard");
    expect(policyError({ clipboard: false, driveRedirection: true }, locked).field).toBe(
      "settings.drive_redirection",
    );
    expect(
      policyError({ clipboard: false, driveRedirection: false, audio: true }, locked).field,
    ).toBe("settings.audio");
  });

  it("takes caller TLS paths only as a pair inside the floor's TLS directory", () => {
    const withDir = floor({ tlsDir: "/etc/lucid/tls" });
    const ok = resolveSettings(
      { tlsCertPath: "/etc/lucid/tls/a.crt", tlsKeyPath: "/etc/lucid/tls/a.key" },
      defaultSettings,
      withDir,
    );
    expect(ok).toMatchObject({
      tlsCertPath: "/etc/lucid/tls/a.crt",
      tlsKeyPath: "/etc/lucid/tls/a.key",
    });
    const noDir = policyError({
      tlsCertPath: "/etc/lucid/tls/a.crt",
      tlsKeyPath: "/etc/lucid/tls/a.key",
    });
    expect(noDir.field).toBe("settings.tls_cert_path");
    expect(noDir.floor).toContain("no TLS_DIR");
    expect(
      policyError(
        { tlsCertPath: "/etc/lucid/tls2/a.crt", tlsKeyPath: "/etc/lucid/tls/a.key" },
        withDir,
      ).field,
    ).toBe("settings.tls_cert_path");
    const lone = rejection({ tlsCertPath: "/etc/lucid/tls/a.crt" }, withDir);
    expect(lone).toBeInstanceOf(SettingsValueError);
    expect((lone as SettingsValueError).field).toBe("settings.tls_key_path");
    for (const bad of [
      "/etc/lucid/tls/../shadow",
      "etc/lucid/tls/a",
      "/etc/lucid/tls/a b",
      "/etc/lucid/tls/a\n",
    ]) {
      const e = rejection({ tlsCertPath: bad, tlsKeyPath: "/etc/lucid/tls/a.key" }, withDir);
      expect(e).toBeInstanceOf(SettingsValueError);
      expect((e as SettingsValueError).field).toBe("settings.tls_cert_path");
    }
  });

  it("rejects unknown enum values and colour depths", () => {
    const layer = rejection({ securityLayer: "tls\nsecurity_layer=rdp" as SecurityLayer });
    expect(layer).toBeInstanceOf(SettingsValueError);
    expect((layer as SettingsValueError).field).toBe("settings.security_layer");
    expect(rejection({ maxBpp: 7 })).toBeInstanceOf(SettingsValueError);
    expect(rejection({ allowMultimon: "yes" as unknown as boolean })).toBeInstanceOf(
      SettingsValueError,
    );
  });
});

describe("validateServiceDefaults()", () => {
  it("accepts the defaults within the default floor", () => {
    expect(() => validateServiceDefaults(defaultSettings, defaultFloor)).not.toThrow();
  });

  it("names the default that is looser than the floor", () => {
    let caught: unknown;
    try {
      validateServiceDefaults({ ...defaultSettings, maxSessions: 80 }, defaultFloor);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SettingsPolicyError);
    expect((caught as SettingsPolicyError).field).toBe("defaults.max_sessions");
  });

  it("rejects an incoherent floor", () => {
    expect(() =>
      validateServiceDefaults(defaultSettings, floor({ allowedSecurityLayers: [] })),
    ).toThrow(SettingsValueError);
    expect(() =>
      validateServiceDefaults(defaultSettings, floor({ allowedCiphers: ["HIGH:!aNULL"] })),
    ).toThrow(SettingsValueError);
    expect(() => validateServiceDefaults(defaultSettings, floor({ tlsDir: "relative" }))).toThrow(
      SettingsValueError,
    );
  });
});
