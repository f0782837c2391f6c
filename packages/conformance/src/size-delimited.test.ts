import { describe, expect, it } from "vitest";
import { readSizeDelimited, sizeDelimited } from "./size-delimited.js";

async function* chunks(...parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield p;
}

describe("sizeDelimited()", () => {
  it("prefixes the message with its length, big-endian", () => {
    expect([...sizeDelimited(new Uint8Array([7, 8, 9]))]).toEqual([0, 0, 0, 3, 7, 8, 9]);
  });
});

describe("readSizeDelimited()", () => {
  it("reads one message split across chunks, and stops there", async () => {
    const framed = sizeDelimited(new Uint8Array([1, 2, 3, 4, 5]));
    const got = await readSizeDelimited(
      chunks(framed.subarray(0, 2), framed.subarray(2, 6), framed.subarray(6), new Uint8Array([9])),
    );
    expect([...got]).toEqual([1, 2, 3, 4, 5]);
  });

  it("reads an empty message", async () => {
    expect((await readSizeDelimited(chunks(sizeDelimited(new Uint8Array())))).length).toBe(0);
  });

  it("says what was missing when input ends early", async () => {
    await expect(readSizeDelimited(chunks(new Uint8Array([0, 0])))).rejects.toThrow(
      "expected a 4-byte length prefix, got 2 bytes before EOF",
    );
    await expect(readSizeDelimited(chunks(new Uint8Array([0, 0, 0, 9, 1])))).rejects.toThrow(
      "expected a 9-byte message, got 1 before EOF",
    );
  });
});
