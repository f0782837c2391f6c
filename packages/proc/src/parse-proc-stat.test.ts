import { describe, expect, it } from "vitest";
import { parseProcStat } from "./parse-proc-stat.js";

describe("parseProcStat()", () => {
  it("takes comm up to the LAST ')' so spaces and parentheses in it do not shift fields", () => {
    const text =
      "4242 (evil) S 1 2 (x) y) R 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n";
    expect(parseProcStat(text)).toEqual({
      pid: 4242,
      comm: "evil) S 1 2 (x) y",
      state: "R",
      ppid: 17,
      pgrp: 4242,
      userTicks: 1,
      systemTicks: 2,
      threads: 1,
      startTicks: 987654,
      virtualBytes: 1000,
      rssPages: 200,
    });
  });

  it("rejects text that is not a stat line", () => {
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("12 (x)")).toBeUndefined();
    expect(parseProcStat("x (y) S 1 2 3")).toBeUndefined();
  });
});

describe("parseProcStat() on captured text", () => {
  it("reads the stat line of a sleeping `sleep`", () => {
    // /proc/<pid>/stat of `sleep 30` under Linux 6.18, as read.
    const text =
      "20510 (sleep) S 20508 20508 11623 0 -1 4194304 130 0 1 0 0 0 0 0 20 0 1 0 1952810 2990080 408 18446744073709551615 94609994973184 94609994991113 140727892955152 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 94609995005200 94609995006464 94610334392320 140727892957898 140727892957907 140727892957907 140727892959209 0\n";
    expect(parseProcStat(text)).toEqual({
      pid: 20510,
      comm: "sleep",
      state: "S",
      ppid: 20508,
      pgrp: 20508,
      userTicks: 0,
      systemTicks: 0,
      threads: 1,
      startTicks: 1952810,
      virtualBytes: 2990080,
      rssPages: 408,
    });
  });
});
