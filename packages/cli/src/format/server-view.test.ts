import { create } from "@bufbuild/protobuf";
import { NodeHealth, NodeSchema, PortRangeSchema } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { nodeTable } from "./server-view.js";

const now = new Date("2026-12-06T12:00:00Z");

describe("nodeTable()", () => {
  it("shows a door node's one RDP port, and a per-port node's range", () => {
    const door = create(NodeSchema, {
      id: "door-node",
      health: NodeHealth.HEALTHY,
      maxServers: 16,
      rdpDoorPort: 3389,
      portRange: create(PortRangeSchema, { start: 3390, end: 3489 }),
      warmPoolTarget: 2,
      warmPoolReady: 1,
    });
    const ports = create(NodeSchema, {
      id: "port-node",
      health: NodeHealth.HEALTHY,
      maxServers: 4,
      portRange: create(PortRangeSchema, { start: 61000, end: 61009 }),
    });
    const lines = nodeTable([door, ports], now).split("\n");
    expect(lines[0]).toMatch(/\bRDP\b/);
    expect(lines[1]).toContain("door :3389");
    expect(lines[1]).not.toContain("3390-3489");
    expect(lines[1]).toContain("1/2");
    expect(lines[2]).toContain("61000-61009");
  });
});
