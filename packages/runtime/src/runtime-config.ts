/**
 * The settings every service shares, read from the env names the seeds used (SERVICE_NAME, HOST,
 * PORT, LOG_LEVEL, DEBUG) plus TLS, CORS, auth and shutdown knobs. Each service adds its own on top.
 */
import { existsSync, readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError, type Env, EnvReader, isLoopbackHost } from "./config.js";

export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

/** How callers are authenticated. */
export type AuthConfig =
  | { readonly mode: "disabled" }
  | {
      readonly mode: "jwt";
      /** HS256 shared secret (AUTH_JWT_SECRET), or undefined when a JWKS URL is used. */
      readonly secret?: string;
      /** JWKS URL (AUTH_JWKS_URL) for asymmetric keys. */
      readonly jwksUrl?: string;
      /** Required `iss` claim (AUTH_ISSUER). */
      readonly issuer?: string;
      /** Required `aud` claim (AUTH_AUDIENCE). */
      readonly audience?: string;
      /** Accepted `alg` values (AUTH_ALGORITHMS). */
      readonly algorithms: readonly string[];
    };

export interface RuntimeConfig {
  readonly serviceName: string;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly debug: boolean;
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Origins browsers may call from; "*" allows any. */
  readonly corsOrigins: readonly string[];
  readonly auth: AuthConfig;
  /** How long in-flight calls may run after SIGTERM before they are cancelled. */
  readonly shutdownGraceMs: number;
  /** How often dependency checks run for health. */
  readonly healthIntervalMs: number;
  /**
   * How long a connection may stay idle: silent before its protocol is known, between requests
   * (HTTP/1.1 keep-alive), or with no stream open (HTTP/2).
   */
  readonly idleSocketTimeoutMs: number;
  /** How long a request's headers (and a TLS handshake) may take once a client starts sending. */
  readonly headersTimeoutMs: number;
  /** How long a request body may take to arrive, for requests whose body is one message. */
  readonly bodyTimeoutMs: number;
  /** Connections open at once; more are refused at accept. */
  readonly maxConnections: number;
  /** The largest message accepted, before and after decompression (bytes). */
  readonly maxMessageBytes: number;
}

export interface RuntimeDefaults {
  /** @default the service's own name */
  readonly serviceName: string;
  /** The service's well-known port (8081, 3389, 8082, 8090). */
  readonly port: number;
}

const asymmetricAlgs = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "EdDSA",
];
const symmetricAlgs = ["HS256", "HS384", "HS512"];

/** An origin (`https://console.example.com`), an origin with any port (`http://localhost:*`), or `*`. */
function isOrigin(s: string): boolean {
  if (s === "*") return true;
  if (s.endsWith(":*")) return isOrigin(s.slice(0, -2));
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.origin === s;
  } catch {
    return false;
  }
}

/**
 * Reads the shared settings. Throws ConfigError on a bad value, and refuses a non-loopback HOST
 * with no auth configured unless AUTH_DISABLED=true says so explicitly.
 */
export function readRuntimeConfig(
  defaults: RuntimeDefaults,
  env: Env = process.env,
): RuntimeConfig {
  const r = new EnvReader(env);
  const serviceName =
    r.string("SERVICE_NAME", {
      default: defaults.serviceName,
      pattern: /^[a-z][a-z0-9-]{0,62}$/,
      accepts: "a lowercase name of letters, digits and dashes (max 63)",
    }) ?? defaults.serviceName;
  const host =
    r.string("HOST", {
      default: "127.0.0.1",
      pattern: /^[A-Za-z0-9.:-]{1,253}$/,
      accepts: "a hostname or IP address",
    }) ?? "127.0.0.1";
  const port = r.int("PORT", { default: defaults.port, min: 0, max: 65535 });
  const debug = r.bool("DEBUG", false);
  const logLevel = r.oneOf("LOG_LEVEL", logLevels, debug ? "debug" : "info");

  const certFile = r.raw("TLS_CERT");
  const keyFile = r.raw("TLS_KEY");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(
      certFile === undefined ? "TLS_CERT" : "TLS_KEY",
      "TLS_CERT and TLS_KEY must be set together (paths to PEM files)",
    );
  }
  for (const [name, file] of [
    ["TLS_CERT", certFile],
    ["TLS_KEY", keyFile],
  ] as const) {
    if (file !== undefined && !existsSync(file)) {
      throw new ConfigError(name, "the path of a readable PEM file", file);
    }
  }
  if (certFile !== undefined && keyFile !== undefined) {
    try {
      createSecureContext({ cert: readFileSync(certFile), key: readFileSync(keyFile) });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new ConfigError(
        "TLS_CERT",
        `a PEM certificate matching the PEM key in TLS_KEY (${why})`,
      );
    }
  }

  const loopback = isLoopbackHost(host);
  const corsSet = r.raw("CORS_ALLOWED_ORIGINS") !== undefined;
  const corsNone = r.raw("CORS_ALLOWED_ORIGINS")?.toLowerCase() === "none";
  const corsOrigins = corsNone
    ? []
    : r.list("CORS_ALLOWED_ORIGINS", {
        accepts:
          "a comma-separated list of origins like https://console.example.com or http://localhost:* (any port), * (any), or none",
        item: isOrigin,
      });

  const auth = readAuth(r, loopback, host);

  return {
    serviceName,
    host,
    port,
    logLevel,
    debug,
    tls: certFile !== undefined && keyFile !== undefined ? { certFile, keyFile } : undefined,
    // On loopback with nothing configured, local consoles may call (any port of localhost).
    corsOrigins: corsSet
      ? corsOrigins
      : loopback
        ? ["http://localhost:*", "http://127.0.0.1:*"]
        : [],
    auth,
    shutdownGraceMs: r.int("SHUTDOWN_GRACE_MS", { default: 10_000, min: 0, max: 600_000 }),
    healthIntervalMs: r.int("HEALTH_CHECK_INTERVAL_MS", { default: 5_000, min: 100, max: 600_000 }),
    idleSocketTimeoutMs: r.int("IDLE_SOCKET_TIMEOUT_MS", {
      default: 10_000,
      min: 100,
      max: 600_000,
    }),
    headersTimeoutMs: r.int("HEADERS_TIMEOUT_MS", { default: 10_000, min: 100, max: 600_000 }),
    bodyTimeoutMs: r.int("BODY_TIMEOUT_MS", { default: 60_000, min: 100, max: 3_600_000 }),
    maxConnections: r.int("MAX_CONNECTIONS", { default: 1_024, min: 1, max: 1_000_000 }),
    maxMessageBytes: r.int("MAX_MESSAGE_BYTES", {
      default: 4 * 1024 * 1024,
      min: 1_024,
      max: 256 * 1024 * 1024,
    }),
  };
}

function readAuth(r: EnvReader, loopback: boolean, host: string): AuthConfig {
  const disabled = r.bool("AUTH_DISABLED", false);
  const secret = r.secret("AUTH_JWT_SECRET", { minLength: 32 });
  const jwksUrl = r.url("AUTH_JWKS_URL");
  if (disabled) {
    if (secret !== undefined || jwksUrl !== undefined) {
      throw new ConfigError(
        "AUTH_DISABLED",
        "false when AUTH_JWT_SECRET or AUTH_JWKS_URL is set (choose one)",
        "true",
      );
    }
    return { mode: "disabled" };
  }
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError(
      "AUTH_JWKS_URL",
      "unset when AUTH_JWT_SECRET is set (choose one key source)",
    );
  }
  if (secret === undefined && jwksUrl === undefined) {
    if (!loopback) {
      throw new ConfigError(
        "HOST",
        `a loopback address unless auth is configured: HOST=${host} is reachable from other machines, so set AUTH_JWT_SECRET or AUTH_JWKS_URL, or AUTH_DISABLED=true to run without auth on purpose`,
      );
    }
    return { mode: "disabled" };
  }
  const allowed = secret !== undefined ? symmetricAlgs : asymmetricAlgs;
  const algorithms = r.list("AUTH_ALGORITHMS", {
    accepts: `a comma-separated list of ${allowed.join(", ")}`,
    item: (a) => allowed.includes(a),
  });
  return {
    mode: "jwt",
    secret,
    jwksUrl,
    issuer: r.string("AUTH_ISSUER"),
    audience: r.string("AUTH_AUDIENCE"),
    algorithms:
      algorithms.length > 0 ? algorithms : secret !== undefined ? ["HS256"] : ["RS256", "ES256"],
  };
}
