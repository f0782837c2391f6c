import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ago, bytes, dateOf, duration, errorText, percent, shortId } from "./format.js";

describe("format", () => {
  describe("shortId()", () => {
    it("keeps the first 8 characters", () => {
      expect(shortId("0123456789abcdef")).toBe("01234567");
      expect(shortId("abc")).toBe("abc");
    });
  });

  describe("dateOf()", () => {
    it("turns a Timestamp into a Date and leaves undefined alone", () => {
      expect(dateOf(timestampFromMs(1_700_000_000_123))?.getTime()).toBe(1_700_000_000_123);
      expect(dateOf(undefined)).toBeUndefined();
    });
  });

  describe("ago()", () => {
    const now = Date.UTC(2026, 0, 2, 12, 0, 0);
    const before = (ms: number) => new Date(now - ms);

    it("says – for an unknown time", () => {
      expect(ago(undefined, now)).toBe("–");
    });

    it("counts seconds, minutes and hours", () => {
      expect(ago(before(0), now)).toBe("0s ago");
      expect(ago(before(59_400), now)).toBe("59s ago");
      expect(ago(before(60_000), now)).toBe("1m ago");
      expect(ago(before(3_599_000), now)).toBe("59m ago");
      expect(ago(before(3_600_000), now)).toBe("1h ago");
      expect(ago(before(86_399_000), now)).toBe("23h ago");
    });

    it("reads a time in the future as now", () => {
      expect(ago(before(-5_000), now)).toBe("0s ago");
    });

    it("gives the local date from one day on", () => {
      const d = before(86_400_000);
      expect(ago(d, now)).toBe(d.toLocaleDateString());
    });
  });

  describe("bytes()", () => {
    it("keeps bytes whole", () => {
      expect(bytes(0)).toBe("0 B");
      expect(bytes(1023)).toBe("1023 B");
    });

    it("shows one decimal below 10 of a unit, none above", () => {
      expect(bytes(1024)).toBe("1.0 KiB");
      expect(bytes(1536)).toBe("1.5 KiB");
      expect(bytes(10 * 1024)).toBe("10 KiB");
      expect(bytes(5 * 1024 ** 2)).toBe("5.0 MiB");
      expect(bytes(300 * 1024 ** 3)).toBe("300 GiB");
    });

    it("accepts bigint and stops at TiB", () => {
      expect(bytes(2n * 1024n ** 4n)).toBe("2.0 TiB");
      expect(bytes(4096n * 1024n ** 4n)).toBe("4096 TiB");
    });
  });

  describe("errorText()", () => {
    it("names the code and gives the message without Connect's prefix", () => {
      expect(errorText(new ConnectError("no such session", Code.NotFound))).toBe(
        "NotFound: no such session",
      );
    });

    it("reads any other error as Unknown", () => {
      expect(errorText(new Error("boom"))).toBe("Unknown: boom");
    });
  });
  describe("percent()", () => {
    it("keeps one decimal", () => {
      expect(percent(0)).toBe("0.0%");
      expect(percent(12.345)).toBe("12.3%");
    });
  });

  describe("duration()", () => {
    it("reads seconds, minutes, hours and days", () => {
      expect(duration(45)).toBe("45s");
      expect(duration(725)).toBe("12m 5s");
      expect(duration(3 * 3600 + 20 * 60)).toBe("3h 20m");
      expect(duration(2 * 86_400 + 4 * 3600)).toBe("2d 4h");
      expect(duration(-3)).toBe("0s");
    });
  });
});
