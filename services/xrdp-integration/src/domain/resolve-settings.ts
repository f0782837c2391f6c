/**
 * The rule that combines requested settings with the service's defaults and floor: requested
 * settings take the defaults for what they leave unset, and may tighten the floor but never loosen
 * it. Value checks come from ./value-checks.ts (the same ones the INI renderers use).
 */
import { SettingsPolicyError, SettingsValueError } from "./settings-errors.js";
import { ValueChecks } from "./value-checks.js";
import {
  cryptLevels,
  type EffectiveSettings,
  maxBppValues,
  maxCipherCount,
  maxSessionsLimit,
  maxTimeLimitSec,
  type SecurityFloor,
  type ServiceDefaults,
  securityLayers,
  tlsProtocols,
  type XrdpSettings,
} from "./xrdp-settings.js";

const check = new ValueChecks(SettingsValueError);

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
  check.integer("floor.max_sessions_cap", floor.maxSessionsCap, 1, maxSessionsLimit);
  check.integer("floor.max_idle_time_limit", floor.maxIdleTimeLimitSec, 1, maxTimeLimitSec);
  check.integer(
    "floor.max_disconnected_time_limit",
    floor.maxDisconnectedTimeLimitSec,
    1,
    maxTimeLimitSec,
  );
  if (floor.tlsDir !== undefined) {
    check.absolutePath("floor.tls_dir", floor.tlsDir);
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
  check.oneOf(f("security_layer"), securityLayer, securityLayers);
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
  check.oneOf(f("crypt_level"), cryptLevel, cryptLevels);
  if (cryptLevels.indexOf(cryptLevel) < cryptLevels.indexOf(floor.minCryptLevel)) {
    throw new SettingsPolicyError(
      f("crypt_level"),
      `minimum crypt level: ${floor.minCryptLevel}`,
      `crypt level "${cryptLevel}"${origin(requested.cryptLevel)}`,
    );
  }

  const requestedProtocols = nonEmpty(requested.tlsProtocols);
  const protocolList = requestedProtocols ?? defaults.tlsProtocols;
  check.list(f("tls_protocols"), protocolList, 1, tlsProtocols.length);
  for (const [i, protocol] of protocolList.entries()) {
    check.oneOf(`${f("tls_protocols")}[${i}]`, protocol, tlsProtocols);
    if (tlsProtocols.indexOf(protocol) < tlsProtocols.indexOf(floor.minTlsProtocol)) {
      throw new SettingsPolicyError(
        `${f("tls_protocols")}[${i}]`,
        `minimum TLS protocol: ${floor.minTlsProtocol}`,
        `TLS protocol ${protocol}${origin(requestedProtocols)}`,
      );
    }
  }
  check.distinct(f("tls_protocols"), protocolList);
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
    check.absolutePath(f(name), path);
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

  const maxBpp = check.oneOf(
    f("max_bpp"),
    positiveOrUndefined(requested.maxBpp) ?? defaults.maxBpp,
    maxBppValues,
  );

  const requestedSessions = positiveOrUndefined(requested.maxSessions);
  const maxSessions = requestedSessions ?? defaults.maxSessions;
  check.integer(f("max_sessions"), maxSessions, 1, maxSessionsLimit);
  if (maxSessions > floor.maxSessionsCap) {
    throw new SettingsPolicyError(
      f("max_sessions"),
      `at most ${floor.maxSessionsCap} sessions per instance`,
      `${maxSessions} sessions${origin(requestedSessions)}`,
    );
  }

  const allowRootLogin = requested.allowRootLogin ?? defaults.allowRootLogin;
  check.boolean(f("allow_root_login"), allowRootLogin);
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
  check.boolean(f("kill_disconnected"), killDisconnected);
  if (!killDisconnected && floor.requireKillDisconnected) {
    throw new SettingsPolicyError(
      f("kill_disconnected"),
      "disconnected sessions must be killed",
      `keeping disconnected sessions${origin(requested.killDisconnected)}`,
    );
  }

  const allowMultimon = requested.allowMultimon ?? defaults.allowMultimon;
  check.boolean(f("allow_multimon"), allowMultimon);

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
    maxBpp,
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
  check.boolean(field, value);
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
  check.integer(field, value, 0, maxTimeLimitSec);
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

function checkCipherNames(field: string, list: readonly string[]): void {
  check.list(field, list, 1, maxCipherCount);
  for (const [i, name] of list.entries()) {
    check.cipherName(`${field}[${i}]`, name);
  }
  check.distinct(field, list);
}
