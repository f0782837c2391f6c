import { describe, expect, it } from "vitest";
import { ConfigError, isLoopbackHost } from "./config.js";
import { readRuntimeConfig } from "./runtime-config.js";

const defaults = { serviceName: "session-controller", port: 8082 };
const read = (env: Record<string, string>) => readRuntimeConfig(defaults, env);
const errorOf = (env: Record<string, string>) => {
  try {
    read(env);
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
};

describe("readRuntimeConfig()", () => {
  it("defaults to loopback, the service's port, info logs, no auth and local CORS origins", () => {
    expect(read({})).toMatchObject({
      serviceName: "session-controller",
      host: "127.0.0.1",
      port: 8082,
      logLevel: "info",
      debug: false,
      auth: { mode: "disabled" },
      corsOrigins: ["http://localhost:*", "http://127.0.0.1:*"],
      shutdownGraceMs: 10_000,
    });
  });

  it("reads the seeds' names: SERVICE_NAME, HOST, PORT, LOG_LEVEL, DEBUG", () => {
    const c = read({
      SERVICE_NAME: "sc-2",
      HOST: "::1",
      PORT: "9000",
      DEBUG: "true",
    });
    expect(c).toMatchObject({ serviceName: "sc-2", host: "::1", port: 9000, debug: true });
    expect(c.logLevel).toBe("debug"); // DEBUG raises the default level
    expect(read({ DEBUG: "yes", LOG_LEVEL: "warn" }).logLevel).toBe("warn");
  });

  it("names the variable and what it accepts", () => {
    const e = errorOf({ PORT: "80a" });
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.variable).toBe("PORT");
    expect(e.message).toBe('PORT="80a" is not valid: expected an integer from 0 to 65535');
  });

  it("refuses a non-loopback host without auth, and accepts it with a secret or AUTH_DISABLED", () => {
    expect(errorOf({ HOST: "0.0.0.0" }).variable).toBe("HOST");
    expect(read({ HOST: "0.0.0.0", AUTH_DISABLED: "true" }).auth.mode).toBe("disabled");
    const c = read({ HOST: "10.0.0.5", AUTH_JWT_SECRET: "x".repeat(32) });
    expect(c.auth).toMatchObject({ mode: "jwt", algorithms: ["HS256"] });
    expect(c.corsOrigins).toEqual([]); // no origins by default off loopback
  });

  it("never echoes a secret that is too short", () => {
    const e = errorOf({ AUTH_JWT_SECRET: "hunter2" });
    expect(e.variable).toBe("AUTH_JWT_SECRET");
    expect(e.message).not.toContain("hunter2");
  });

  it("takes one key source, and algorithms that fit it", () => {
    expect(
      errorOf({ AUTH_JWT_SECRET: "x".repeat(32), AUTH_JWKS_URL: "https://idp/jwks" }).variable,
    ).toBe("AUTH_JWKS_URL");
    expect(errorOf({ AUTH_JWKS_URL: "https://idp/jwks", AUTH_ALGORITHMS: "HS256" }).variable).toBe(
      "AUTH_ALGORITHMS",
    );
    expect(read({ AUTH_JWKS_URL: "https://idp/jwks" }).auth).toMatchObject({
      mode: "jwt",
      algorithms: ["RS256", "ES256"],
    });
    expect(errorOf({ AUTH_JWKS_URL: "ftp://idp/jwks" }).variable).toBe("AUTH_JWKS_URL");
    expect(errorOf({ AUTH_DISABLED: "true", AUTH_JWT_SECRET: "x".repeat(32) }).variable).toBe(
      "AUTH_DISABLED",
    );
  });

  it("wants TLS_CERT and TLS_KEY together", () => {
    expect(errorOf({ TLS_CERT: "/etc/hostname" }).variable).toBe("TLS_KEY");
  });

  it("checks each CORS origin", () => {
    expect(
      read({ CORS_ALLOWED_ORIGINS: "https://a.example, http://localhost:*" }).corsOrigins,
    ).toEqual(["https://a.example", "http://localhost:*"]);
    expect(errorOf({ CORS_ALLOWED_ORIGINS: "https://a.example/path" }).variable).toBe(
      "CORS_ALLOWED_ORIGINS",
    );
  });
});

describe("isLoopbackHost()", () => {
  it.each([
    ["127.0.0.1", true],
    ["127.8.9.1", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.1.2.3", false],
    ["example.com", false],
  ])("%s -> %s", (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
