/**
 * `abortable` releases a caller at its signal while the driver's operation runs on; that
 * operation's own failure must never go unhandled (Node ends the process on one), also when the
 * signal had aborted before `abortable` was called (the chaos suite's E11000 exits, issue 15).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { abortable } from "../../src/documents/mongo-errors.js";

describe("abortable", () => {
  const unhandled: unknown[] = [];
  const record = (e: unknown) => unhandled.push(e);
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", record);
  });
  afterEach(() => {
    process.off("unhandledRejection", record);
  });

  const later = (fail: boolean) =>
    new Promise<string>((resolve, reject) =>
      setTimeout(() => (fail ? reject(new Error("E11000 duplicate key")) : resolve("ok")), 20),
    );
  const settle = () => new Promise((r) => setTimeout(r, 60));

  it("rejects with the reason of a signal aborted before the call; the operation's failure is handled", async () => {
    const signal = AbortSignal.abort(new Error("deadline"));
    await expect(abortable(signal, later(true))).rejects.toThrow("deadline");
    await settle();
    expect(unhandled).toEqual([]);
  });

  it("rejects at an abort during the operation; the operation's later failure is handled", async () => {
    const ac = new AbortController();
    const p = abortable(ac.signal, later(true));
    ac.abort(new Error("cancelled"));
    await expect(p).rejects.toThrow("cancelled");
    await settle();
    expect(unhandled).toEqual([]);
  });

  it("resolves with the operation's value while the signal stays quiet", async () => {
    expect(await abortable(new AbortController().signal, later(false))).toBe("ok");
  });
});
