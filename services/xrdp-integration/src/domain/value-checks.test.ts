import { describe, expect, it } from "vitest";
import { IniValueError } from "./ini-format.js";
import { SettingsValueError } from "./settings-errors.js";
import { ValueChecks } from "./value-checks.js";

describe("ValueChecks", () => {
  it("throws the error class it was given, naming the field", () => {
    for (const errorClass of [IniValueError, SettingsValueError]) {
      const check = new ValueChecks(errorClass);
      const error = (() => {
        try {
          check.integer("settings.max_sessions", 0, 1, 100);
        } catch (e) {
          return e;
        }
        throw new Error("0 was accepted");
      })();
      expect(error).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({
        field: "settings.max_sessions",
        reason: "must be an integer from 1 to 100",
      });
    }
  });

  it("returns the value it accepted", () => {
    const check = new ValueChecks(IniValueError);
    expect(check.integer("f", 3, 1, 5)).toBe(3);
    expect(check.boolean("f", false)).toBe(false);
    expect(check.oneOf("f", 24, [16, 24, 32])).toBe(24);
    expect(check.distinct("f", check.list<string>("f", ["a", "b"], 1, 2))).toEqual(["a", "b"]);
    expect(check.absolutePath("f", "/etc/xrdp/cert.pem")).toBe("/etc/xrdp/cert.pem");
    expect(check.loopbackIpv4("f", "127.77.0.5")).toBe("127.77.0.5");
    expect(check.cipherSuite("f", "ECDHE-RSA-AES128-GCM-SHA256")).toBe(
      "ECDHE-RSA-AES128-GCM-SHA256",
    );
  });

  it("checks a list's length and its repeats separately", () => {
    const check = new ValueChecks(SettingsValueError);
    expect(check.list("f", ["a", "a"], 1, 2)).toEqual(["a", "a"]);
    expect(() => check.distinct("f", ["a", "a"])).toThrow("must not repeat an item");
    expect(() => check.list("f", [], 1, 2)).toThrow("must be a list of 1 to 2 items");
  });

  it("takes an API cipher name that is no cipher suite xrdp may carry", () => {
    const check = new ValueChecks(IniValueError);
    expect(check.cipherName("f", "ecdhe-rsa-aes128-gcm-sha256")).toBe(
      "ecdhe-rsa-aes128-gcm-sha256",
    );
    expect(() => check.cipherSuite("f", "ecdhe-rsa-aes128-gcm-sha256")).toThrow(IniValueError);
    expect(() => check.cipherSuite("f", "ECDHE-RSA-NULL-SHA")).toThrow("never allowed");
  });

  it("refuses the root directory alone as an absolute path", () => {
    expect(() => new ValueChecks(SettingsValueError).absolutePath("f", "/")).toThrow(
      SettingsValueError,
    );
  });
});
