/**
 * Typed xrdp settings, the service's security floor and the rule that combines them: requested
 * settings take the service defaults for what they leave unset, and may tighten the floor but
 * never loosen it. Plain TypeScript mirroring `lucid.rdp.v1.XrdpSettings`; the handler maps the
 * proto message to and from these types.
 *
 * Rendering into xrdp.ini / sesman.ini (with its own per-field allowlists) lives in ./ini.ts.
 */

/** xrdp's `security_layer`: how the RDP connection is secured. */
export type SecurityLayer = "rdp" | "tls" | "negotiate";
/** xrdp's `crypt_level`: the strength of classic RDP encryption (no effect with TLS). */
export type CryptLevel = "low" | "medium" | "high" | "fips";
/** A TLS version xrdp may accept (its `ssl_protocols`); older versions are never offered. */
export type TlsProtocol = "TLSv1.2" | "TLSv1.3";
/** A colour depth xrdp can offer (`max_bpp`). */
export type MaxBpp = 8 | 15 | 16 | 24 | 32;

/** Every security layer, weakest first. */
export const securityLayers: readonly SecurityLayer[] = ["rdp", "negotiate", "tls"];
/** Every crypt level, weakest first. */
export const cryptLevels: readonly CryptLevel[] = ["low", "medium", "high", "fips"];
/** Every TLS version, oldest first. */
export const tlsProtocols: readonly TlsProtocol[] = ["TLSv1.2", "TLSv1.3"];
/** Every colour depth xrdp offers. */
export const maxBppValues: readonly MaxBpp[] = [8, 15, 16, 24, 32];

/** The longest idle or disconnected time limit the API accepts: 7 days. */
export const maxTimeLimitSec = 604_800;
/** The most sessions the API accepts for one instance. */
export const maxSessionsLimit = 100;
/** The most cipher names a list may hold. */
export const maxCipherCount = 32;

/**
 * The settings a caller asked for. Every field is optional; unset fields take the service
 * defaults. As in the proto, zero values mean unset: `""` for the TLS paths, `[]` for the lists,
 * `0` for `maxBpp` and `maxSessions`. For the two time limits `undefined` means unset and `0`
 * means "no limit" (only where the floor allows it).
 */
export interface XrdpSettings {
  readonly securityLayer?: SecurityLayer;
  readonly cryptLevel?: CryptLevel;
  readonly tlsProtocols?: readonly TlsProtocol[];
  /** OpenSSL names of TLS 1.2 cipher suites (TLS 1.3 suites are not configurable in xrdp). */
  readonly tlsCiphers?: readonly string[];
  /** Absolute path of a PEM certificate inside the floor's `tlsDir`; given with `tlsKeyPath`. */
  readonly tlsCertPath?: string;
  /** Absolute path of a PEM private key inside the floor's `tlsDir`; given with `tlsCertPath`. */
  readonly tlsKeyPath?: string;
  readonly maxBpp?: number;
  readonly maxSessions?: number;
  readonly allowRootLogin?: boolean;
  readonly idleTimeLimitSec?: number;
  readonly disconnectedTimeLimitSec?: number;
  readonly killDisconnected?: boolean;
  readonly allowMultimon?: boolean;
  readonly clipboard?: boolean;
  readonly driveRedirection?: boolean;
  readonly audio?: boolean;
}

/**
 * The settings in force for an instance: every field set, defaults and floor applied.
 *
 * `tlsCertPath` and `tlsKeyPath` are `""` when the caller gave none: the instance then uses a
 * certificate generated for it (see `ensureTlsMaterial` in ./tls-material.ts); the supervisor sets
 * the generated paths with `{ ...effective, tlsCertPath, tlsKeyPath }` before rendering, and the
 * renderer refuses an empty path.
 */
export interface EffectiveSettings {
  readonly securityLayer: SecurityLayer;
  readonly cryptLevel: CryptLevel;
  /** Distinct, oldest first. */
  readonly tlsProtocols: readonly TlsProtocol[];
  readonly tlsCiphers: readonly string[];
  readonly tlsCertPath: string;
  readonly tlsKeyPath: string;
  readonly maxBpp: MaxBpp;
  readonly maxSessions: number;
  readonly allowRootLogin: boolean;
  /** Seconds; 0 means no limit. */
  readonly idleTimeLimitSec: number;
  /** Seconds; 0 means no limit. */
  readonly disconnectedTimeLimitSec: number;
  readonly killDisconnected: boolean;
  readonly allowMultimon: boolean;
  readonly clipboard: boolean;
  readonly driveRedirection: boolean;
  readonly audio: boolean;
}

/** The service's defaults for unset fields: every setting except the per-instance TLS paths. */
export type ServiceDefaults = Omit<EffectiveSettings, "tlsCertPath" | "tlsKeyPath">;

/**
 * The service's configured security minimum. Requested settings (and the service defaults) may be
 * stricter, never looser; a looser value is a {@link SettingsPolicyError}.
 */
export interface SecurityFloor {
  /**
   * The security layers an instance may use. `negotiate` can fall back to classic RDP, so it is
   * allowed only when both `negotiate` and `rdp` are listed.
   * @default ["tls"]
   */
  readonly allowedSecurityLayers: readonly SecurityLayer[];
  /**
   * The weakest classic RDP crypt level allowed (order low < medium < high < fips).
   * @default "high"
   */
  readonly minCryptLevel: CryptLevel;
  /**
   * The oldest TLS version an instance may accept.
   * @default "TLSv1.2"
   */
  readonly minTlsProtocol: TlsProtocol;
  /**
   * The TLS 1.2 cipher suites an instance may allow: requested lists must be subsets of it.
   * @default defaultTlsCiphers
   */
  readonly allowedCiphers: readonly string[];
  /**
   * Whether an instance may let root log in.
   * @default false
   */
  readonly allowRootLogin: boolean;
  /**
   * The most sessions one instance may serve.
   * @default 50
   */
  readonly maxSessionsCap: number;
  /**
   * The longest idle time limit, in seconds.
   * @default 86400
   */
  readonly maxIdleTimeLimitSec: number;
  /**
   * Whether an idle time limit of 0 ("no limit") is allowed.
   * @default false
   */
  readonly allowNoIdleTimeLimit: boolean;
  /**
   * The longest disconnected time limit, in seconds.
   * @default 604800
   */
  readonly maxDisconnectedTimeLimitSec: number;
  /**
   * Whether a disconnected time limit of 0 ("no limit") is allowed.
   * @default false
   */
  readonly allowNoDisconnectedTimeLimit: boolean;
  /**
   * Whether sessions must be killed as soon as their client disconnects.
   * @default false
   */
  readonly requireKillDisconnected: boolean;
  /**
   * Whether the clipboard channel may be enabled.
   * @default true
   */
  readonly allowClipboard: boolean;
  /**
   * Whether drive redirection may be enabled.
   * @default true
   */
  readonly allowDriveRedirection: boolean;
  /**
   * Whether audio output may be enabled.
   * @default true
   */
  readonly allowAudio: boolean;
  /**
   * The directory (TLS_DIR) that caller-supplied certificate and key paths must lie in; undefined
   * refuses caller-supplied paths, so every instance uses generated material.
   * @default undefined
   */
  readonly tlsDir: string | undefined;
}

/**
 * The default TLS 1.2 cipher suites, OpenSSL names: ECDHE key exchange (forward secrecy) with
 * AEAD ciphers only, strongest first. This list is also the default floor's allowlist.
 *
 * TLS 1.3 suites are configured separately in OpenSSL (SSL_CTX_set_ciphersuites); xrdp 0.9.21
 * only calls SSL_CTX_set_cipher_list with `tls_ciphers`, so TLS 1.3 connections use OpenSSL's
 * default 1.3 suites (TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
 * TLS_AES_128_GCM_SHA256), all AEAD. TLS 1.3 names are therefore not accepted here.
 */
export const defaultTlsCiphers: readonly string[] = Object.freeze([
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
]);

/** The default security floor: TLS only, TLS 1.2+, the default ciphers, no root, bounded limits. */
export const defaultFloor: SecurityFloor = Object.freeze({
  allowedSecurityLayers: Object.freeze(["tls"] as SecurityLayer[]),
  minCryptLevel: "high",
  minTlsProtocol: "TLSv1.2",
  allowedCiphers: defaultTlsCiphers,
  allowRootLogin: false,
  maxSessionsCap: 50,
  maxIdleTimeLimitSec: 86_400,
  allowNoIdleTimeLimit: false,
  maxDisconnectedTimeLimitSec: maxTimeLimitSec,
  allowNoDisconnectedTimeLimit: false,
  requireKillDisconnected: false,
  allowClipboard: true,
  allowDriveRedirection: true,
  allowAudio: true,
  tlsDir: undefined,
});

/**
 * The default settings: TLS with TLS 1.2 and 1.3 and the explicit cipher list, crypt level high
 * (for when a floor allows classic RDP), no root, 10 sessions per instance, 1 h idle limit, 8 h
 * disconnected limit, drive redirection off (it exposes the client's disks), clipboard and audio
 * on.
 */
export const defaultSettings: ServiceDefaults = Object.freeze({
  securityLayer: "tls",
  cryptLevel: "high",
  tlsProtocols: Object.freeze(["TLSv1.2", "TLSv1.3"] as TlsProtocol[]),
  tlsCiphers: defaultTlsCiphers,
  maxBpp: 32,
  maxSessions: 10,
  allowRootLogin: false,
  idleTimeLimitSec: 3_600,
  disconnectedTimeLimitSec: 28_800,
  killDisconnected: false,
  allowMultimon: true,
  clipboard: true,
  driveRedirection: false,
  audio: true,
});

/** Thrown when requested settings are looser than the service's security floor. */
export class SettingsPolicyError extends Error {
  override readonly name = "SettingsPolicyError";
  /**
   * @param field the proto field path, e.g. `settings.security_layer`.
   * @param floor the floor that was violated, as text, e.g. `allowed security layers: tls`.
   */
  constructor(
    readonly field: string,
    readonly floor: string,
    detail: string,
  ) {
    super(`${field}: ${detail} is looser than the security floor (${floor})`);
  }
}

/**
 * Thrown when a requested setting is not a valid value for its field at all (unknown enum value,
 * out of range, malformed path or cipher name), regardless of the floor.
 */
export class SettingsValueError extends Error {
  override readonly name = "SettingsValueError";
  /** @param field the proto field path, e.g. `settings.max_bpp`. */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** A TLS 1.2 OpenSSL cipher name as the API accepts it (letters, digits, `_`, `-`). */
const cipherNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** An absolute path as the API accepts it. */
const pathPattern = /^\/[A-Za-z0-9._/-]{0,254}$/;

/**
 * Applies `defaults` to what `requested` leaves unset and checks the result against `floor`.
 * Errors name the proto field (`settings.<field>`).
 *
 * @throws SettingsValueError when a requested value is invalid for its field.
 * @throws SettingsPolicyError when a value (requested, or a default) is looser than the floor.
 */
export function resolveSettings(
  requested: XrdpSettings,
  defaults: ServiceDefaults,
  floor: SecurityFloor,
): EffectiveSettings {
  return resolveWith(requested, defaults, floor, "settings");
}

/**
 * Checks the service's configuration once at start: the floor is coherent and the defaults lie
 * within it. Errors name `defaults.<field>` or `floor.<field>`.
 *
 * @throws SettingsValueError or SettingsPolicyError
 */
export function validateServiceDefaults(defaults: ServiceDefaults, floor: SecurityFloor): void {
  if (floor.allowedSecurityLayers.length === 0) {
    throw new SettingsValueError("floor.allowed_security_layers", "must not be empty");
  }
  for (const layer of floor.allowedSecurityLayers) {
    if (!securityLayers.includes(layer)) {
      throw new SettingsValueError("floor.allowed_security_layers", "unknown security layer");
    }
  }
  if (!cryptLevels.includes(floor.minCryptLevel)) {
    throw new SettingsValueError("floor.min_crypt_level", "unknown crypt level");
  }
  if (!tlsProtocols.includes(floor.minTlsProtocol)) {
    throw new SettingsValueError("floor.min_tls_protocol", "unknown TLS protocol");
  }
  checkCipherNames("floor.allowed_ciphers", floor.allowedCiphers);
  checkInteger("floor.max_sessions_cap", floor.maxSessionsCap, 1, maxSessionsLimit);
  checkInteger("floor.max_idle_time_limit", floor.maxIdleTimeLimitSec, 1, maxTimeLimitSec);
  checkInteger(
    "floor.max_disconnected_time_limit",
    floor.maxDisconnectedTimeLimitSec,
    1,
    maxTimeLimitSec,
  );
  if (floor.tlsDir !== undefined) {
    checkPath("floor.tls_dir", floor.tlsDir);
  }
  resolveWith({}, defaults, floor, "defaults");
}

function resolveWith(
  requested: XrdpSettings,
  defaults: ServiceDefaults,
  floor: SecurityFloor,
  prefix: string,
): EffectiveSettings {
  const f = (name: string) => `${prefix}.${name}`;

  const securityLayer = requested.securityLayer ?? defaults.securityLayer;
  checkEnum(f("security_layer"), securityLayer, securityLayers);
  const layerAllowed =
    floor.allowedSecurityLayers.includes(securityLayer) &&
    (securityLayer !== "negotiate" || floor.allowedSecurityLayers.includes("rdp"));
  if (!layerAllowed) {
    throw new SettingsPolicyError(
      f("security_layer"),
      `allowed security layers: ${floor.allowedSecurityLayers.join(", ")}; negotiate also needs rdp`,
      `security layer "${securityLayer}"${origin(requested.securityLayer)}`,
    );
  }

  const cryptLevel = requested.cryptLevel ?? defaults.cryptLevel;
  checkEnum(f("crypt_level"), cryptLevel, cryptLevels);
  if (cryptLevels.indexOf(cryptLevel) < cryptLevels.indexOf(floor.minCryptLevel)) {
    throw new SettingsPolicyError(
      f("crypt_level"),
      `minimum crypt level: ${floor.minCryptLevel}`,
      `crypt level "${cryptLevel}"${origin(requested.cryptLevel)}`,
    );
  }

  const requestedProtocols = nonEmpty(requested.tlsProtocols);
  const protocolList = requestedProtocols ?? defaults.tlsProtocols;
  checkList(f("tls_protocols"), protocolList, 1, tlsProtocols.length);
  for (const [i, protocol] of protocolList.entries()) {
    checkEnum(`${f("tls_protocols")}[${i}]`, protocol, tlsProtocols);
    if (tlsProtocols.indexOf(protocol) < tlsProtocols.indexOf(floor.minTlsProtocol)) {
      throw new SettingsPolicyError(
        `${f("tls_protocols")}[${i}]`,
        `minimum TLS protocol: ${floor.minTlsProtocol}`,
        `TLS protocol ${protocol}${origin(requestedProtocols)}`,
      );
    }
  }
  checkDistinct(f("tls_protocols"), protocolList);
  const tlsProtocolsResolved = tlsProtocols.filter((p) => protocolList.includes(p));

  const requestedCiphers = nonEmpty(requested.tlsCiphers);
  const tlsCiphers = requestedCiphers ?? defaults.tlsCiphers;
  checkCipherNames(f("tls_ciphers"), tlsCiphers);
  for (const [i, cipher] of tlsCiphers.entries()) {
    if (!floor.allowedCiphers.includes(cipher)) {
      throw new SettingsPolicyError(
        `${f("tls_ciphers")}[${i}]`,
        `allowed ciphers: ${floor.allowedCiphers.join(":")}`,
        `cipher ${cipher}${origin(requestedCiphers)}`,
      );
    }
  }

  const certPath = requested.tlsCertPath ?? "";
  const keyPath = requested.tlsKeyPath ?? "";
  if ((certPath === "") !== (keyPath === "")) {
    const missing = certPath === "" ? "tls_cert_path" : "tls_key_path";
    throw new SettingsValueError(
      f(missing),
      "tls_cert_path and tls_key_path must be given together",
    );
  }
  for (const [name, path] of [
    ["tls_cert_path", certPath],
    ["tls_key_path", keyPath],
  ] as const) {
    if (path === "") continue;
    checkPath(f(name), path);
    if (floor.tlsDir === undefined || !path.startsWith(`${floor.tlsDir.replace(/\/+$/, "")}/`)) {
      throw new SettingsPolicyError(
        f(name),
        floor.tlsDir === undefined
          ? "no TLS_DIR configured: only generated certificates are used"
          : `TLS files must lie in ${floor.tlsDir}`,
        "a path outside the TLS directory",
      );
    }
  }

  const maxBpp = positiveOrUndefined(requested.maxBpp) ?? defaults.maxBpp;
  if (!maxBppValues.includes(maxBpp as MaxBpp)) {
    throw new SettingsValueError(f("max_bpp"), `must be one of ${maxBppValues.join(", ")}`);
  }

  const requestedSessions = positiveOrUndefined(requested.maxSessions);
  const maxSessions = requestedSessions ?? defaults.maxSessions;
  checkInteger(f("max_sessions"), maxSessions, 1, maxSessionsLimit);
  if (maxSessions > floor.maxSessionsCap) {
    throw new SettingsPolicyError(
      f("max_sessions"),
      `at most ${floor.maxSessionsCap} sessions per instance`,
      `${maxSessions} sessions${origin(requestedSessions)}`,
    );
  }

  const allowRootLogin = requested.allowRootLogin ?? defaults.allowRootLogin;
  checkBoolean(f("allow_root_login"), allowRootLogin);
  if (allowRootLogin && !floor.allowRootLogin) {
    throw new SettingsPolicyError(
      f("allow_root_login"),
      "root login is not allowed",
      `allowing root login${origin(requested.allowRootLogin)}`,
    );
  }

  const idleTimeLimitSec = requested.idleTimeLimitSec ?? defaults.idleTimeLimitSec;
  checkTimeLimit(
    f("idle_time_limit"),
    idleTimeLimitSec,
    floor.maxIdleTimeLimitSec,
    floor.allowNoIdleTimeLimit,
    origin(requested.idleTimeLimitSec),
  );
  const disconnectedTimeLimitSec =
    requested.disconnectedTimeLimitSec ?? defaults.disconnectedTimeLimitSec;
  checkTimeLimit(
    f("disconnected_time_limit"),
    disconnectedTimeLimitSec,
    floor.maxDisconnectedTimeLimitSec,
    floor.allowNoDisconnectedTimeLimit,
    origin(requested.disconnectedTimeLimitSec),
  );

  const killDisconnected = requested.killDisconnected ?? defaults.killDisconnected;
  checkBoolean(f("kill_disconnected"), killDisconnected);
  if (!killDisconnected && floor.requireKillDisconnected) {
    throw new SettingsPolicyError(
      f("kill_disconnected"),
      "disconnected sessions must be killed",
      `keeping disconnected sessions${origin(requested.killDisconnected)}`,
    );
  }

  const allowMultimon = requested.allowMultimon ?? defaults.allowMultimon;
  checkBoolean(f("allow_multimon"), allowMultimon);

  const clipboard = channel(f("clipboard"), requested.clipboard, defaults.clipboard, {
    allowed: floor.allowClipboard,
    what: "the clipboard channel",
  });
  const driveRedirection = channel(
    f("drive_redirection"),
    requested.driveRedirection,
    defaults.driveRedirection,
    { allowed: floor.allowDriveRedirection, what: "drive redirection" },
  );
  const audio = channel(f("audio"), requested.audio, defaults.audio, {
    allowed: floor.allowAudio,
    what: "audio output",
  });

  return {
    securityLayer,
    cryptLevel,
    tlsProtocols: tlsProtocolsResolved,
    tlsCiphers: [...tlsCiphers],
    tlsCertPath: certPath,
    tlsKeyPath: keyPath,
    maxBpp: maxBpp as MaxBpp,
    maxSessions,
    allowRootLogin,
    idleTimeLimitSec,
    disconnectedTimeLimitSec,
    killDisconnected,
    allowMultimon,
    clipboard,
    driveRedirection,
    audio,
  };
}

/** " (the service default)" when the value was not requested, so errors say where it came from. */
function origin(requestedValue: unknown): string {
  return requestedValue === undefined ? " (the service default)" : "";
}

function nonEmpty<T>(list: readonly T[] | undefined): readonly T[] | undefined {
  return list === undefined || list.length === 0 ? undefined : list;
}

function positiveOrUndefined(value: number | undefined): number | undefined {
  return value === undefined || value === 0 ? undefined : value;
}

function channel(
  field: string,
  requestedValue: boolean | undefined,
  defaultValue: boolean,
  rule: { allowed: boolean; what: string },
): boolean {
  const value = requestedValue ?? defaultValue;
  checkBoolean(field, value);
  if (value && !rule.allowed) {
    throw new SettingsPolicyError(
      field,
      `${rule.what} is not allowed`,
      `enabling ${rule.what}${origin(requestedValue)}`,
    );
  }
  return value;
}

function checkTimeLimit(
  field: string,
  value: number,
  max: number,
  allowNoLimit: boolean,
  from: string,
): void {
  checkInteger(field, value, 0, maxTimeLimitSec);
  if (value === 0 && !allowNoLimit) {
    throw new SettingsPolicyError(
      field,
      `at most ${max} s, a limit is required`,
      `no limit${from}`,
    );
  }
  if (value > max) {
    throw new SettingsPolicyError(field, `at most ${max} s`, `${value} s${from}`);
  }
}

function checkEnum<T extends string>(field: string, value: unknown, allowed: readonly T[]): void {
  if (typeof value !== "string" || !allowed.includes(value as T)) {
    throw new SettingsValueError(field, `must be one of ${allowed.join(", ")}`);
  }
}

function checkBoolean(field: string, value: unknown): void {
  if (typeof value !== "boolean") {
    throw new SettingsValueError(field, "must be a boolean");
  }
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SettingsValueError(field, `must be an integer from ${min} to ${max}`);
  }
}

function checkList(field: string, value: unknown, min: number, max: number): void {
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    throw new SettingsValueError(field, `must be a list of ${min} to ${max} items`);
  }
}

function checkDistinct(field: string, list: readonly unknown[]): void {
  if (new Set(list).size !== list.length) {
    throw new SettingsValueError(field, "must not repeat an item");
  }
}

function checkCipherNames(field: string, list: readonly string[]): void {
  checkList(field, list, 1, maxCipherCount);
  for (const [i, name] of list.entries()) {
    if (typeof name !== "string" || !cipherNamePattern.test(name)) {
      throw new SettingsValueError(
        `${field}[${i}]`,
        "must be an OpenSSL cipher name of 1 to 64 letters, digits, _ and -",
      );
    }
  }
  checkDistinct(field, list);
}

function checkPath(field: string, value: unknown): void {
  if (typeof value !== "string" || !pathPattern.test(value) || value.includes("..")) {
    throw new SettingsValueError(
      field,
      "must be an absolute path of at most 255 letters, digits and ._/- without ..",
    );
  }
}
