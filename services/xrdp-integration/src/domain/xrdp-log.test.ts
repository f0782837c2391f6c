import { describe, expect, it } from "vitest";
import { normalizePeerAddress, parseXrdpLogLine } from "./xrdp-log.js";

describe("parseXrdpLogLine()", () => {
  it("reads xrdp 0.9.21's lines (Debian 12), once per login", () => {
    const p = "[20261206-03:56:06] [INFO ] [pid:15045 tid:140451507337024] ";
    expect(
      parseXrdpLogLine(
        `${p}TLS connection established from 127.0.0.1 port 54758: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384`,
      ),
    ).toEqual({ kind: "peer", pid: 15045, peer: { address: "127.0.0.1", port: 54758 } });
    expect(
      parseXrdpLogLine(`${p}xrdp_wm_log_msg: login successful for user lucidalice on display 11`),
    ).toEqual({ kind: "login", pid: 15045, user: "lucidalice", display: 11 });
    // The same message without the prefix is a repeat, not a second login.
    expect(parseXrdpLogLine(`${p}login successful for user lucidalice on display 11`)).toBe(
      undefined,
    );
    expect(parseXrdpLogLine(`${p}xrdp_wm_log_msg: login failed for user lucidalice`)).toEqual({
      kind: "login_failed",
      pid: 15045,
      user: "lucidalice",
      why: "login failed",
    });
  });

  it("reads xrdp 0.10.1's lines (Debian 13)", () => {
    const p = "[2026-12-06T04:01:37.681+0000] [INFO ] [pid:5433 tid:139915962922816] ";
    expect(
      parseXrdpLogLine(
        `${p}TLS connection established from 127.0.0.1:53176 TLSv1.3 with cipher TLS_AES_256_GCM_SHA384`,
      ),
    ).toEqual({ kind: "peer", pid: 5433, peer: { address: "127.0.0.1", port: 53176 } });
    expect(
      parseXrdpLogLine(
        `${p}TLS connection established from [::ffff:10.0.0.7]:40000 TLSv1.2 with cipher X`,
      ),
    ).toEqual({ kind: "peer", pid: 5433, peer: { address: "::ffff:10.0.0.7", port: 40000 } });
    expect(
      parseXrdpLogLine(
        `${p}xrdp_wm_log_msg: session is available on display 12 for user lucidalice`,
      ),
    ).toEqual({ kind: "login", pid: 5433, user: "lucidalice", display: 12 });
    expect(
      parseXrdpLogLine(`${p}xrdp_wm_log_msg: User does not exist, or could not be authenticated`),
    ).toMatchObject({ kind: "login_failed", pid: 5433 });
  });

  it("ignores everything else, lines without a pid, and forged text after the prefix", () => {
    for (const line of [
      "",
      "login successful for user root on display 1",
      "[x] [INFO ] xrdp_wm_log_msg: login successful for user a on display 1",
      "[x] [INFO ] [pid:1 tid:2] xrdp_wm_log_msg: login successful for user a on display 1 x",
      "[x] [INFO ] [pid:1 tid:2] TLS connection established from 1.2.3.4 port 99999: x",
      "[x] [INFO ] [pid:1 tid:2] sending login info to session manager. Please wait...",
    ]) {
      expect(parseXrdpLogLine(line), line).toBe(undefined);
    }
  });
});

describe("normalizePeerAddress()", () => {
  it("names an IPv4-mapped peer by its IPv4 address", () => {
    expect(normalizePeerAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizePeerAddress("::1")).toBe("::1");
  });
});
