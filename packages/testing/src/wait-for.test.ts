import { describe, expect, it } from "vitest";
import { waitFor } from "./wait-for.js";

describe("waitFor()", () => {
  it("returns the first value that is not undefined", async () => {
    let calls = 0;
    const value = await waitFor("the third call", () => (++calls === 3 ? "ready" : undefined), {
      intervalMs: 1,
    });
    expect([value, calls]).toEqual(["ready", 3]);
  });

  it("returns the first value `until` accepts, retrying errors meanwhile", async () => {
    let calls = 0;
    const value = await waitFor(
      "a value above 2",
      () => {
        calls++;
        if (calls === 1) throw new Error("not yet");
        return calls;
      },
      { until: (n) => n > 2, intervalMs: 1 },
    );
    expect(value).toBe(3);
  });

  it("fails after the timeout naming what it awaited, the last value, the last error and the logs", async () => {
    let calls = 0;
    const failure = waitFor(
      "the answer",
      () => {
        calls++;
        if (calls % 2 === 0) throw new Error("flaky");
        return { n: calls };
      },
      { until: () => false, timeoutMs: 20, intervalMs: 1, logs: () => "the logs" },
    );
    await expect(failure).rejects.toThrow(/^the answer: not within 20 ms\nlast: \{"n":\d+\}/);
    await expect(failure).rejects.toThrow(/last error: Error: flaky\nthe logs$/);
  });

  it("shows `detail()` instead of the last value", async () => {
    await expect(
      waitFor("nothing", () => undefined, { timeoutMs: 5, intervalMs: 1, detail: () => "state X" }),
    ).rejects.toThrow("nothing: not within 5 ms\nlast: state X");
  });

  it("fails at once on an error `retry` refuses", async () => {
    let calls = 0;
    const failure = waitFor(
      "the stream",
      () => {
        calls++;
        throw new RangeError("ended");
      },
      { retry: (e) => !(e instanceof RangeError), timeoutMs: 10_000 },
    );
    await expect(failure).rejects.toThrow("the stream: ended");
    expect(calls).toBe(1);
  });
});
