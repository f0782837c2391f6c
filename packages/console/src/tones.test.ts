import { create } from "@bufbuild/protobuf";
import { AlertState, NodeHealth, NodeSchema, ServerState, SessionState } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { alertTone, nodeBadge, serverTone, sessionTone } from "./tones.js";

describe("tones", () => {
  describe("sessionTone()", () => {
    it("colours each session state", () => {
      expect(sessionTone(SessionState.PENDING)).toBe("busy");
      expect(sessionTone(SessionState.PROVISIONING)).toBe("busy");
      expect(sessionTone(SessionState.READY)).toBe("ok");
      expect(sessionTone(SessionState.ACTIVE)).toBe("ok");
      expect(sessionTone(SessionState.DISCONNECTED)).toBe("idle");
      expect(sessionTone(SessionState.TERMINATING)).toBe("warn");
      expect(sessionTone(SessionState.TERMINATED)).toBe("gone");
      expect(sessionTone(SessionState.FAILED)).toBe("bad");
    });

    it("leaves an unknown state plain", () => {
      expect(sessionTone(SessionState.UNSPECIFIED)).toBe("");
      expect(sessionTone(999 as SessionState)).toBe("");
    });
  });

  describe("serverTone()", () => {
    it("colours each server state", () => {
      expect(serverTone(ServerState.PROVISIONING)).toBe("busy");
      expect(serverTone(ServerState.READY)).toBe("ok");
      expect(serverTone(ServerState.DRAINING)).toBe("warn");
      expect(serverTone(ServerState.STOPPING)).toBe("warn");
      expect(serverTone(ServerState.STOPPED)).toBe("gone");
      expect(serverTone(ServerState.FAILED)).toBe("bad");
      expect(serverTone(ServerState.UNSPECIFIED)).toBe("");
    });
  });

  describe("alertTone()", () => {
    it("colours each alert state", () => {
      expect(alertTone(AlertState.PENDING)).toBe("warn");
      expect(alertTone(AlertState.FIRING)).toBe("bad");
      expect(alertTone(AlertState.RESOLVED)).toBe("ok");
      expect(alertTone(AlertState.INACTIVE)).toBe("gone");
      expect(alertTone(AlertState.UNSPECIFIED)).toBe("");
    });
  });

  describe("nodeBadge()", () => {
    it("shows a healthy node as ok", () => {
      expect(nodeBadge(create(NodeSchema, { health: NodeHealth.HEALTHY }))).toEqual({
        text: "HEALTHY",
        tone: "ok",
      });
    });

    it("shows any other health as bad", () => {
      expect(nodeBadge(create(NodeSchema, { health: NodeHealth.UNHEALTHY }))).toEqual({
        text: "UNHEALTHY",
        tone: "bad",
      });
      expect(nodeBadge(create(NodeSchema, {})).tone).toBe("bad");
    });

    it("shows a draining node as DRAINING whatever its health", () => {
      expect(nodeBadge(create(NodeSchema, { health: NodeHealth.HEALTHY, draining: true }))).toEqual(
        { text: "DRAINING", tone: "warn" },
      );
    });
  });
});
