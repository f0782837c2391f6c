import { describe, expect, it } from "vitest";
import { parseEnviron } from "./parse-environ.js";

describe("parseEnviron()", () => {
  it("reads NAME=value entries, the first of a repeated name winning", () => {
    const text = "HOME=/home/alice\0DISPLAY=:11.0\0EMPTY=\0A=b=c\0DISPLAY=:12\0junk\0";
    expect(parseEnviron(text)).toEqual(
      new Map([
        ["HOME", "/home/alice"],
        ["DISPLAY", ":11.0"],
        ["EMPTY", ""],
        ["A", "b=c"],
      ]),
    );
  });

  it("reads an empty file (kernel thread, zombie) as no variables", () => {
    expect(parseEnviron("")).toEqual(new Map());
  });
});
