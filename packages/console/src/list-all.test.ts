import { describe, expect, it } from "vitest";
import { type ListPage, listAll } from "./list-all.js";

describe("listAll()", () => {
  it("reads every page in order and resumes from the first page's event id", async () => {
    const pages: Record<string, ListPage<number>> = {
      "": { items: [1, 2], next: "p2", lastEventId: "e1" },
      p2: { items: [3], next: "p3", lastEventId: "e2" },
      p3: { items: [], next: "" },
    };
    const asked: string[] = [];
    const r = await listAll(async (token) => {
      asked.push(token);
      return pages[token]!;
    });
    expect(r).toEqual({ items: [1, 2, 3], lastEventId: "e1" });
    expect(asked).toEqual(["", "p2", "p3"]);
  });

  it("takes the first event id any page gives, and '' when none does", async () => {
    expect(
      await listAll(async (t) =>
        t === "" ? { items: ["a"], next: "x" } : { items: ["b"], next: "", lastEventId: "e9" },
      ),
    ).toEqual({ items: ["a", "b"], lastEventId: "e9" });
    expect(await listAll(async () => ({ items: [], next: "" }))).toEqual({
      items: [],
      lastEventId: "",
    });
  });

  it("passes a failing page on", async () => {
    await expect(
      listAll(async () => {
        throw new Error("unavailable");
      }),
    ).rejects.toThrow("unavailable");
  });
});
