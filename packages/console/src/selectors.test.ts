import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  AlertSchema,
  AlertState,
  ServerSchema,
  ServerState,
  SessionSchema,
  SessionState,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import {
  alertStatus,
  isEnded,
  isLive,
  isSilenced,
  supersedes,
  visibleAlerts,
  visibleServers,
} from "./selectors.js";

const at = (ms: number) => timestampFromMs(ms);
const session = (id: string, state: SessionState, created: number, updated = created) =>
  create(SessionSchema, { id, state, createTime: at(created), updateTime: at(updated) });

describe("selectors", () => {
  describe("isEnded()", () => {
    it("is true for TERMINATED and FAILED only", () => {
      expect(isEnded(session("a", SessionState.TERMINATED, 1))).toBe(true);
      expect(isEnded(session("a", SessionState.FAILED, 1))).toBe(true);
      expect(isEnded(session("a", SessionState.TERMINATING, 1))).toBe(false);
      expect(isEnded(session("a", SessionState.READY, 1))).toBe(false);
    });
  });

  describe("supersedes()", () => {
    it("takes any session it did not know", () => {
      expect(supersedes(undefined, session("a", SessionState.READY, 1))).toBe(true);
    });

    it("takes a later or equal update and refuses an earlier one", () => {
      const known = session("a", SessionState.READY, 1, 10);
      expect(supersedes(known, session("a", SessionState.ACTIVE, 1, 11))).toBe(true);
      expect(supersedes(known, session("a", SessionState.ACTIVE, 1, 10))).toBe(true);
      expect(supersedes(known, session("a", SessionState.PENDING, 1, 9))).toBe(false);
    });
  });

  describe("visibleServers()", () => {
    it("leaves out STOPPED servers and lists the rest newest first", () => {
      const server = (id: string, state: ServerState, created: number) =>
        create(ServerSchema, { id, state, createTime: at(created) });
      const shown = visibleServers([
        server("a", ServerState.READY, 1),
        server("b", ServerState.STOPPED, 3),
        server("c", ServerState.FAILED, 2),
      ]);
      expect(shown.map((s) => s.id)).toEqual(["c", "a"]);
    });
  });

  describe("visibleAlerts()", () => {
    const alert = (id: string, state: AlertState, updated: number) =>
      create(AlertSchema, { id, state, updateTime: at(updated) });

    it("puts FIRING first, then PENDING, then the rest, most recent first in each", () => {
      const shown = visibleAlerts([
        alert("resolved", AlertState.RESOLVED, 9),
        alert("pending", AlertState.PENDING, 8),
        alert("firing-old", AlertState.FIRING, 1),
        alert("firing-new", AlertState.FIRING, 2),
        alert("inactive", AlertState.INACTIVE, 10),
      ]);
      expect(shown.map((a) => a.id)).toEqual([
        "firing-new",
        "firing-old",
        "pending",
        "inactive",
        "resolved",
      ]);
    });

    it("puts a silenced FIRING alert after the unsilenced ones", () => {
      const silenced = create(AlertSchema, {
        id: "silenced",
        state: AlertState.FIRING,
        updateTime: at(5),
        silencedUntil: at(10_000),
      });
      const shown = visibleAlerts([silenced, alert("firing", AlertState.FIRING, 1)], 1_000);
      expect(shown.map((a) => a.id)).toEqual(["firing", "silenced"]);
    });

    it("shows at most 20", () => {
      const many = Array.from({ length: 25 }, (_, i) => alert(`a${i}`, AlertState.FIRING, i));
      const shown = visibleAlerts(many);
      expect(shown).toHaveLength(20);
      expect(shown[0]?.id).toBe("a24");
    });
  });

  describe("isSilenced()", () => {
    it("is true only while silenced_until lies ahead", () => {
      const a = create(AlertSchema, { silencedUntil: at(2_000) });
      expect(isSilenced(a, 1_000)).toBe(true);
      expect(isSilenced(a, 2_000)).toBe(false);
      expect(isSilenced(create(AlertSchema, {}), 1_000)).toBe(false);
    });
  });

  describe("isLive()", () => {
    it("is true for READY, ACTIVE and DISCONNECTED only", () => {
      const live = Object.values(SessionState)
        .filter((v): v is SessionState => typeof v === "number")
        .filter((state) => isLive(create(SessionSchema, { state })));
      expect(live).toEqual([SessionState.READY, SessionState.ACTIVE, SessionState.DISCONNECTED]);
    });
  });

  describe("alertStatus()", () => {
    it("says SILENCED and until when while the silence holds, else the state", () => {
      const a = create(AlertSchema, { state: AlertState.FIRING, silencedUntil: at(2_000) });
      expect(alertStatus(a, 1_000)).toEqual({
        text: "SILENCED",
        tone: "silenced",
        until: new Date(2_000),
      });
      expect(alertStatus(a, 3_000)).toEqual({ text: "FIRING", tone: "state" });
    });
  });
});
