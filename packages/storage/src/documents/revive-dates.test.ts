import { describe, expect, it } from "vitest";
import { reviveDates } from "./revive-dates.js";

describe("reviveDates()", () => {
  const t = "2026-12-06T09:00:00.000Z";
  const record = JSON.parse(
    JSON.stringify({
      id: "s1",
      createTime: new Date(t),
      deadlines: { idle: new Date(t), connect: new Date(t) },
      lastExit: { exitCode: 1, time: new Date(t) },
      note: t,
    }),
  ) as unknown;

  it("revives the named fields, nested maps and nested fields, and nothing else", () => {
    const r = reviveDates<{
      createTime: Date;
      deadlines: Record<string, Date>;
      lastExit: { exitCode: number; time: Date };
      note: string;
      readyTime?: Date;
    }>(record, ["createTime", "readyTime", "deadlines.*", "lastExit.time", "warned.*"]);
    expect(r.createTime).toEqual(new Date(t));
    expect(r.deadlines).toEqual({ idle: new Date(t), connect: new Date(t) });
    expect(r.lastExit).toEqual({ exitCode: 1, time: new Date(t) });
    expect(r.note).toBe(t);
    expect(r.readyTime).toBeUndefined();
    expect("warned" in r).toBe(false);
  });
});
