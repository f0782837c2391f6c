/**
 * Typed xrdp settings, the service's security floor, and the secure built-in defaults of both.
 * Plain TypeScript mirroring `lucid.rdp.v1.XrdpSettings`; the handler maps the proto message to
 * and from these types (../service/mappers.ts).
 *
 * How requested settings combine with the defaults and the floor: ./resolve-settings.ts.
 * Rendering into xrdp.ini / sesman.ini: ./xrdp-ini.ts and ./sesman-ini.ts.
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
 * stricter, never looser; a looser value is a SettingsPolicyError (./settings-errors.ts).
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
