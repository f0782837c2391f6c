import { describe, expect, it } from "vitest";
import { parseProcIo } from "./parse-proc-io.js";

describe("parseProcIo()", () => {
  it("reads the storage bytes of captured text", () => {
    const captured =
      "rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 0\nread_bytes: 16384\nwrite_bytes: 0\ncancelled_write_bytes: 0\n";
    expect(parseProcIo(captured)).toEqual({ readBytes: 16384, writeBytes: 0 });
  });

  it("leaves out what the text lacks", () => {
    expect(parseProcIo("rchar: 1\n")).toEqual({});
  });
});
