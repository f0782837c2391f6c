import { describe, expect, it } from "vitest";
import { decodeRecord, encodeRecord } from "./sqlite-codec.js";

describe("encodeRecord()", () => {
  it("round-trips Dates at any depth, and drops undefined fields", () => {
    const record = {
      id: "a",
      createTime: new Date(1_700_000_000_123),
      deadlines: { idle: new Date(5), none: undefined },
      list: [{ at: new Date(7) }, "x"],
      labels: { k: "v" },
      n: 0,
      b: false,
    };
    const { json, dates } = encodeRecord(record);
    expect(JSON.parse(json).createTime).toBe(1_700_000_000_123);
    const back = decodeRecord<typeof record>(json, dates);
    expect(back).toEqual({ ...record, deadlines: { idle: new Date(5) } });
    expect(back.list[0]).toEqual({ at: new Date(7) });
    expect("none" in back.deadlines).toBe(false);
  });
});
