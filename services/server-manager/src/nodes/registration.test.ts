import { create } from "@bufbuild/protobuf";
import { EndpointSchema, PortRangeSchema, RegisterNodeRequestSchema } from "@lucid-rdp/gen";
import { createMemoryStores } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { RegistrationRefusedError, TooManyNodesError } from "../domain/registration-errors.js";
import { registrationFromProto } from "../service/mappers.js";
import { serverManagerSpecs } from "../store/specs.js";
import { registerNode } from "./registration.js";

const req = (nodeId: string, host = "10.0.0.5", range = { start: 3390, end: 3489 }) =>
  registrationFromProto(
    create(RegisterNodeRequestSchema, {
      nodeId,
      address: create(EndpointSchema, { host, port: 3389 }),
      maxServers: 10,
      portRange: create(PortRangeSchema, range),
      leaseTtl: { seconds: 15n },
      serving: true,
    }),
  );

describe("registerNode()", () => {
  const now = new Date("2026-11-21T12:00:00Z");

  it("registers a node, then renews its lease", async () => {
    const { nodes, servers } = createMemoryStores(serverManagerSpecs);
    const first = await registerNode(nodes, servers, req("node-a"), now);
    expect(first.node).toMatchObject({
      id: "node-a",
      address: "10.0.0.5:3389",
      source: "registered",
    });
    const later = new Date(now.getTime() + 5_000);
    const again = await registerNode(nodes, servers, req("node-a"), later);
    expect(again.node.lastHeartbeatTime).toEqual(later);
    expect(again.ttlMs).toBe(15_000);
  });

  it("refuses a static node's id", async () => {
    const { nodes, servers } = createMemoryStores(serverManagerSpecs);
    await nodes.insert({
      id: "static-1",
      address: "10.0.0.9:3389",
      maxServers: 4,
      draining: false,
      source: "static",
      heartbeatTtlMs: 15_000,
      portRangeStart: 3390,
      portRangeEnd: 3489,
      labels: {},
    });
    await expect(registerNode(nodes, servers, req("static-1"), now)).rejects.toBeInstanceOf(
      RegistrationRefusedError,
    );
  });

  it("refuses another address while the holder's lease runs, and accepts it once lapsed", async () => {
    const { nodes, servers } = createMemoryStores(serverManagerSpecs);
    await registerNode(nodes, servers, req("node-b", "10.0.0.5"), now);
    await expect(
      registerNode(nodes, servers, req("node-b", "10.0.0.6"), new Date(now.getTime() + 1_000)),
    ).rejects.toThrow("another address");
    const moved = await registerNode(
      nodes,
      servers,
      req("node-b", "10.0.0.6"),
      new Date(now.getTime() + 20_000),
    );
    expect(moved.node.address).toBe("10.0.0.6:3389");
  });

  it("refuses a port range that leaves out a live server's port, or touches sesman's ports", async () => {
    const { nodes, servers } = createMemoryStores(serverManagerSpecs);
    await registerNode(nodes, servers, req("node-c"), now);
    await servers.insert({
      id: "00000000-0000-4000-8000-000000000001",
      owner: "alice",
      nodeId: "node-c",
      host: "10.0.0.5",
      port: 3480,
      state: "READY",
      labels: {},
    });
    await expect(
      registerNode(nodes, servers, req("node-c", "10.0.0.5", { start: 3390, end: 3400 }), now),
    ).rejects.toThrow("3480");
    await expect(
      registerNode(nodes, servers, req("node-d", "10.0.0.7", { start: 5800, end: 6000 }), now),
    ).rejects.toThrow("5900-6299");
  });

  it("refuses a new node beyond the configured maximum", async () => {
    const { nodes, servers } = createMemoryStores(serverManagerSpecs);
    await registerNode(nodes, servers, req("node-e", "10.0.0.1"), now, undefined, 1);
    await expect(
      registerNode(nodes, servers, req("node-f", "10.0.0.2"), now, undefined, 1),
    ).rejects.toBeInstanceOf(TooManyNodesError);
    // An existing node still renews.
    await registerNode(nodes, servers, req("node-e", "10.0.0.1"), now, undefined, 1);
  });
});
