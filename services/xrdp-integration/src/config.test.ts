import { hostname } from "node:os";
import { ConfigError, type Env, EnvReader } from "@lucid-rdp/runtime";
import { describe, expect, it } from "vitest";
import { readXrdpIntegrationConfig } from "./config.js";

function read(env: Env, runtime = { host: "127.0.0.1", port: 3389 }) {
  return readXrdpIntegrationConfig(new EnvReader(env), runtime);
}

/** The ConfigError `env` causes. */
function failure(env: Env): ConfigError {
  try {
    read(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("readXrdpIntegrationConfig()", () => {
  describe("NODE_PORT_RANGE", () => {
    it("defaults to 3390-3489", () => {
      expect(read({}).portRange).toEqual({ start: 3390, end: 3489 });
    });

    it("reads a valid range", () => {
      expect(read({ NODE_PORT_RANGE: "40000-40999" }).portRange).toEqual({
        start: 40000,
        end: 40999,
      });
      expect(read({ NODE_PORT_RANGE: "6300-6300" }).portRange).toEqual({ start: 6300, end: 6300 });
    });

    it("rejects a reversed range, naming the variable", () => {
      const e = failure({ NODE_PORT_RANGE: "3489-3390" });
      expect(e.variable).toBe("NODE_PORT_RANGE");
      expect(e.message).toMatch(/start not above end/);
    });

    it("rejects ranges overlapping 5900-6299, which xrdp-sesman uses", () => {
      for (const v of ["5000-5900", "6000-6010", "6299-7000", "5800-6300"]) {
        const e = failure({ NODE_PORT_RANGE: v });
        expect(e.variable).toBe("NODE_PORT_RANGE");
        expect(e.message).toMatch(/5900-6299.*xrdp-sesman/);
      }
    });

    it("rejects malformed, out-of-bounds and oversized ranges and one holding PORT", () => {
      for (const v of ["3390", "a-b", "80-3489", "3390-70000", "10000-20000", "3300-3400"]) {
        expect(failure({ NODE_PORT_RANGE: v }).variable).toBe("NODE_PORT_RANGE");
      }
    });
  });

  describe("NODE_LABELS", () => {
    it("defaults to no labels", () => {
      expect(read({}).nodeLabels).toEqual({});
    });

    it("reads comma-separated key=value pairs", () => {
      expect(read({ NODE_LABELS: "zone=eu-1, gpu=, rack=r1/u2:a=b" }).nodeLabels).toEqual({
        zone: "eu-1",
        gpu: "",
        rack: "r1/u2:a=b",
      });
    });

    it("rejects bad keys, bad values, repeated keys and more than 32 pairs", () => {
      const many = Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",");
      for (const v of ["Zone=eu", "1zone=eu", "zone", "zone=eu 1", "zone=a,zone=b", many]) {
        expect(failure({ NODE_LABELS: v }).variable).toBe("NODE_LABELS");
      }
    });
  });

  describe("SERVER_MANAGER_URL", () => {
    it("is unset by default: no registration", () => {
      expect(read({}).serverManagerUrl).toBeUndefined();
    });

    it("reads an http(s) URL", () => {
      const url = "http://server-manager:8081";
      expect(read({ SERVER_MANAGER_URL: url }).serverManagerUrl).toBe(url);
    });

    it("rejects another scheme, naming the variable", () => {
      for (const v of ["ftp://server-manager:8081", "server-manager:8081"]) {
        expect(failure({ SERVER_MANAGER_URL: v }).variable).toBe("SERVER_MANAGER_URL");
      }
    });
  });

  describe("NODE_ADVERTISE_HOST and NODE_RDP_HOST", () => {
    it("default to HOST and XRDP_LISTEN_ADDRESS without the door", () => {
      const c = read(
        { RDP_DOOR: "off", XRDP_LISTEN_ADDRESS: "10.0.0.8" },
        { host: "10.0.0.7", port: 3389 },
      );
      expect(c.advertiseHost).toBe("10.0.0.7");
      expect(c.rdpHost).toBe("10.0.0.8");
    });

    it("fall back to the host name when both listen on every address", () => {
      const c = read(
        { RDP_DOOR: "off", XRDP_LISTEN_ADDRESS: "0.0.0.0" },
        { host: "0.0.0.0", port: 3389 },
      );
      expect(c.advertiseHost).toBe(hostname());
      expect(c.rdpHost).toBe(hostname());
      const set = read(
        { RDP_DOOR: "off", XRDP_LISTEN_ADDRESS: "0.0.0.0", NODE_ADVERTISE_HOST: "node-a.internal" },
        { host: "::", port: 3389 },
      );
      expect(set.rdpHost).toBe("node-a.internal");
    });

    it("behind the door, default NODE_RDP_HOST to the service's own address", () => {
      const c = read({}, { host: "10.0.0.7", port: 3389 });
      expect(c.rdpDoor).toBe(true);
      expect(c.rdpHost).toBe("10.0.0.7");
    });

    it("reject a value that is not a host name or IP address", () => {
      for (const v of ["node a", "-node", "node_a", "a".repeat(254)]) {
        expect(failure({ NODE_ADVERTISE_HOST: v }).variable).toBe("NODE_ADVERTISE_HOST");
        expect(failure({ NODE_RDP_HOST: v }).variable).toBe("NODE_RDP_HOST");
      }
      expect(read({ NODE_RDP_HOST: "fd00::7" }).rdpHost).toBe("fd00::7");
    });
  });

  describe("RDP_DOOR and WARM_POOL_SIZE", () => {
    it("default to the door on and no warm pool", () => {
      const c = read({});
      expect(c.rdpDoor).toBe(true);
      expect(c.warmPoolSize).toBe(0);
      expect(c.doorRatePerMinute).toBe(30);
      expect(c.doorBurst).toBe(10);
      expect(read({ WARM_POOL_SIZE: "4" }).warmPoolSize).toBe(4);
      expect(read({ RDP_DOOR: "off" }).rdpDoor).toBe(false);
    });

    it("refuse xrdp on a public address behind the door, and a pool without the door", () => {
      expect(failure({ XRDP_LISTEN_ADDRESS: "0.0.0.0" }).variable).toBe("XRDP_LISTEN_ADDRESS");
      expect(failure({ RDP_DOOR: "off", WARM_POOL_SIZE: "2" }).variable).toBe("WARM_POOL_SIZE");
      expect(failure({ RDP_DOOR: "yes" }).variable).toBe("RDP_DOOR");
      expect(failure({ WARM_POOL_SIZE: "65" }).variable).toBe("WARM_POOL_SIZE");
    });
  });

  describe("NODE_HEARTBEAT_TTL_MS", () => {
    it("defaults to 15 s and stays within 5 s to 5 min", () => {
      expect(read({}).heartbeatTtlMs).toBe(15_000);
      expect(read({ NODE_HEARTBEAT_TTL_MS: "60000" }).heartbeatTtlMs).toBe(60_000);
      expect(failure({ NODE_HEARTBEAT_TTL_MS: "4999" }).variable).toBe("NODE_HEARTBEAT_TTL_MS");
      expect(failure({ NODE_HEARTBEAT_TTL_MS: "300001" }).variable).toBe("NODE_HEARTBEAT_TTL_MS");
    });
  });

  describe("XRDP_TLS_KEY_POOL", () => {
    it("defaults to 2 keys, and 0 turns the pool off", () => {
      expect(read({}).tlsKeyPool).toBe(2);
      expect(read({ XRDP_TLS_KEY_POOL: "0" }).tlsKeyPool).toBe(0);
      expect(read({ XRDP_TLS_KEY_POOL: "32" }).tlsKeyPool).toBe(32);
    });

    it("rejects anything but an integer from 0 to 32, naming the variable", () => {
      for (const v of ["-1", "33", "2.5", "two", "1e1"]) {
        const e = failure({ XRDP_TLS_KEY_POOL: v });
        expect(e.variable).toBe("XRDP_TLS_KEY_POOL");
        expect(e.message).toMatch(/an integer from 0 to 32/);
      }
    });
  });
});
