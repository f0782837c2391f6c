import { describe, expect, it } from "vitest";
import { parseCmdline } from "./parse-cmdline.js";

describe("parseCmdline()", () => {
  it("splits at NULs and drops the terminating one", () => {
    expect(parseCmdline("sleep\x0030\x00")).toEqual(["sleep", "30"]);
    expect(parseCmdline("a b\x00\x00c\x00")).toEqual(["a b", "", "c"]);
  });

  it("reads an empty file (kernel thread, zombie) as no arguments", () => {
    expect(parseCmdline("")).toEqual([]);
  });
});
