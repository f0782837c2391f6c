import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type Session, SessionSchema, SessionState } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { choices, emptyQuery, matchesQuery, pageOf, querySessions } from "./session-query.js";

const session = (id: string, user: string, state: SessionState, nodeId: string, at: number) =>
  create(SessionSchema, { id, user, state, nodeId, createTime: timestampFromMs(at) });

const all: Session[] = [
  session("aaaa1111-0000-4000-8000-000000000001", "alice", SessionState.READY, "node-1", 1),
  session("bbbb2222-0000-4000-8000-000000000002", "bob", SessionState.FAILED, "node-2", 2),
  session("cccc3333-0000-4000-8000-000000000003", "alice.b", SessionState.TERMINATED, "", 3),
];

describe("session-query", () => {
  describe("matchesQuery()", () => {
    it("searches the start of the id or any part of the user, ignoring case", () => {
      const ids = (search: string) =>
        all.filter((s) => matchesQuery(s, { ...emptyQuery, search })).map((s) => s.user);
      expect(ids("bbbb")).toEqual(["bob"]);
      expect(ids("ALICE")).toEqual(["alice", "alice.b"]);
      expect(ids("  ")).toHaveLength(3);
      expect(ids("2222")).toEqual([]); // not the start of an id
    });
    it("filters by states, exact user and node together", () => {
      const q = { ...emptyQuery, states: [SessionState.READY, SessionState.TERMINATED] };
      expect(all.filter((s) => matchesQuery(s, q)).map((s) => s.user)).toEqual([
        "alice",
        "alice.b",
      ]);
      expect(all.filter((s) => matchesQuery(s, { ...q, user: "alice" }))).toHaveLength(1);
      expect(all.filter((s) => matchesQuery(s, { ...emptyQuery, node: "node-2" }))).toEqual([
        all[1],
      ]);
    });
  });

  describe("pageOf()", () => {
    it("cuts pages and clamps the page number", () => {
      const items = [1, 2, 3, 4, 5];
      expect(pageOf(items, 0, 2)).toEqual({ items: [1, 2], page: 0, pages: 3, total: 5 });
      expect(pageOf(items, 2, 2)).toEqual({ items: [5], page: 2, pages: 3, total: 5 });
      expect(pageOf(items, 9, 2).page).toBe(2);
      expect(pageOf(items, -1, 2).page).toBe(0);
      expect(pageOf([], 3, 2)).toEqual({ items: [], page: 0, pages: 1, total: 0 });
    });
  });

  describe("querySessions()", () => {
    it("puts sessions not ended first, newest first in each, before paging", () => {
      const users = (page: number) =>
        querySessions(all, { ...emptyQuery, page }, 2).items.map((s) => s.user);
      expect(users(0)).toEqual(["alice", "alice.b"]);
      expect(users(1)).toEqual(["bob"]);
      expect(querySessions(all, emptyQuery, 2).total).toBe(3);
    });

    it("keeps every ended session, not only the last few", () => {
      const ended = Array.from({ length: 30 }, (_, i) =>
        session(`e${i}`, `u${i}`, SessionState.TERMINATED, "", i),
      );
      expect(querySessions(ended, emptyQuery, 100).total).toBe(30);
    });
  });

  describe("choices()", () => {
    it("lists distinct non-empty values, sorted", () => {
      expect(choices([...all, all[0] as Session], "user")).toEqual(["alice", "alice.b", "bob"]);
      expect(choices(all, "nodeId")).toEqual(["node-1", "node-2"]);
    });
  });
});
