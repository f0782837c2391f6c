import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  SessionEventType,
  SessionSchema,
  SessionState,
  SessionStateReason,
  SessionTimer,
  WatchSessionsResponseSchema,
} from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { connectInfoText, sessionDetails, sessionEventLine, sessionTable } from "./session-view.js";

const now = new Date(2026, 11, 6, 12, 0, 0);
const session = create(SessionSchema, {
  id: "s-1",
  user: "alice",
  state: SessionState.FAILED,
  stateReason: SessionStateReason.PROVISIONING_FAILED,
  stateMessage: "node-1: xrdp is not installed",
  nodeId: "node-1",
  connectInfo: {
    endpoint: { host: "10.0.0.5", port: 3400 },
    username: "alice",
    rdpFilePath: "/sessions/s-1.rdp",
  },
  createTime: timestampFromDate(new Date(2026, 11, 6, 11, 59, 0)),
});

describe("sessionTable()", () => {
  it("shows the reason in its own column, not hidden", () => {
    const [head, row] = sessionTable([session], now).split("\n");
    expect(head).toMatch(/^ID +USER +STATE +NODE +ENDPOINT +CONN +CREATED +MESSAGE$/);
    expect(row).toMatch(
      /^s-1 +alice +\S*FAILED\S* +node-1 +10\.0\.0\.5:3400 +0 +11:59:00 \(1m ago\) +node-1: xrdp is not installed$/,
    );
  });
});

describe("sessionDetails()", () => {
  it("shows the state with its reason and leaves out what is unset", () => {
    const text = sessionDetails(session, now);
    expect(text).toMatch(/^state: +\S*FAILED\S* \(PROVISIONING_FAILED\)$/m);
    expect(text).toMatch(/^message: +node-1: xrdp is not installed$/m);
    expect(text).not.toContain("routing token");
  });
});

describe("connectInfoText()", () => {
  it("says where to connect and as whom", () => {
    expect(connectInfoText(session)).toBe(
      "connect to: 10.0.0.5:3400\nusername:   alice\nrdp file:   /sessions/s-1.rdp",
    );
  });

  it("gives the .rdp file as the URL to download it from", () => {
    const text = connectInfoText(session, (p) => new URL(p, "http://127.0.0.1:8082").toString());
    expect(text).toContain("rdp file:   http://127.0.0.1:8082/sessions/s-1.rdp");
  });
});

describe("sessionEventLine()", () => {
  it("shows a transition and a timer warning", () => {
    const changed = create(WatchSessionsResponseSchema, {
      type: SessionEventType.STATE_CHANGED,
      previousState: SessionState.PROVISIONING,
      session: { id: "s-1", user: "alice", state: SessionState.READY },
      eventTime: timestampFromDate(now),
    });
    expect(sessionEventLine(changed)).toMatch(
      /^2026-12-06 12:00:00 {2}STATE_CHANGED +s-1 {2}alice {2}PROVISIONING -> \S*READY/,
    );
    const warning = create(WatchSessionsResponseSchema, {
      type: SessionEventType.TIMER_WARNING,
      timer: SessionTimer.IDLE,
      deadlineTime: timestampFromDate(new Date(2026, 11, 6, 12, 5, 0)),
      session: { id: "s-1", user: "alice", state: SessionState.ACTIVE },
    });
    expect(sessionEventLine(warning)).toContain("IDLE ends it at 2026-12-06 12:05:00");
  });
});
