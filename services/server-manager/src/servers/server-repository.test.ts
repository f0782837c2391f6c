import { randomUUID } from "node:crypto";
import {
  type BusEvent,
  createMemoryStores,
  type EventBus,
  MemoryEventBus,
} from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { IllegalTransitionError } from "../domain/server-state.js";
import { serverManagerSpecs } from "../store/specs.js";
import { ServerRepository, systemActor } from "./server-repository.js";

const quiet = { warn: () => undefined };

/** A bus whose publishes fail, as a replica killed right after its write. */
function deadBus(bus: EventBus): EventBus {
  return new Proxy(bus, {
    get(target, p, r) {
      if (p === "publish") return async () => Promise.reject(new Error("killed"));
      return Reflect.get(target, p, r);
    },
  });
}

const record = () => ({
  id: randomUUID(),
  requestId: randomUUID(),
  owner: "alice",
  nodeId: "node-1",
  host: "10.0.0.5",
  port: 3400,
  state: "PROVISIONING" as const,
  labels: {},
});

describe("ServerRepository", () => {
  describe("transition()", () => {
    it("stores the state with its server.state_changed event and server.<state> audit record", async () => {
      const stores = createMemoryStores(serverManagerSpecs);
      const bus = new MemoryEventBus();
      const repo = new ServerRepository({
        servers: stores.servers,
        bus,
        audit: stores.auditEvents,
        logger: quiet,
      });
      const s = await repo.insert(record(), systemActor);
      const ready = await repo.transition(
        s.id,
        "READY",
        { subject: "u", roles: ["admin"] },
        {
          instanceId: "i-1",
        },
      );
      const events = (await bus.read("server")) as BusEvent<{
        server: { id: string; state: string; instanceId?: string };
        previousState?: string;
      }>[];
      expect(events.map((e) => e.type)).toEqual(["server.created", "server.state_changed"]);
      expect(events[1]?.data).toMatchObject({
        server: { id: s.id, state: "READY", instanceId: "i-1" },
        previousState: "PROVISIONING",
      });
      const audits = (await stores.auditEvents.list({ pageSize: 10 })).items;
      expect(audits.map((a) => a.action).sort()).toEqual(["server.create", "server.ready"]);
      expect(audits.find((a) => a.action === "server.ready")).toMatchObject({
        actorSubject: "u",
        resourceId: s.id,
        requestId: s.requestId,
        details: { state: "READY", previous_state: "PROVISIONING", node: "node-1", port: "3400" },
      });
      expect(ready.state).toBe("READY");
    });

    it("refuses a change outside the life cycle, and leaves a state not in `from` alone", async () => {
      const stores = createMemoryStores(serverManagerSpecs);
      const repo = new ServerRepository({
        servers: stores.servers,
        bus: new MemoryEventBus(),
        audit: stores.auditEvents,
        logger: quiet,
      });
      const s = await repo.insert(record(), systemActor);
      await repo.transition(s.id, "FAILED", systemActor);
      await expect(repo.transition(s.id, "READY", systemActor)).rejects.toBeInstanceOf(
        IllegalTransitionError,
      );
      const same = await repo.transition(
        s.id,
        "READY",
        systemActor,
        {},
        { from: ["PROVISIONING"] },
      );
      expect(same.state).toBe("FAILED");
    });
  });

  describe("relayOnce()", () => {
    it("delivers the events of a writer killed after its write, once", async () => {
      const stores = createMemoryStores(serverManagerSpecs);
      const bus = new MemoryEventBus();
      const dying = new ServerRepository({
        servers: stores.servers,
        bus: deadBus(bus),
        audit: stores.auditEvents,
        logger: quiet,
      });
      const s = await dying.insert(record(), systemActor);
      await dying.transition(s.id, "READY", systemActor);
      expect(await bus.read("server")).toEqual([]);
      const leader = new ServerRepository({
        servers: stores.servers,
        bus,
        audit: stores.auditEvents,
        logger: quiet,
        // A second later: the entries are older than the relay's cutoff.
        clock: () => new Date(Date.now() + 1_000),
      });
      await leader.relayOnce(0);
      await leader.relayOnce(0);
      const types = (await bus.read("server")).map((e) => e.type);
      expect(types).toEqual(["server.created", "server.state_changed"]);
      expect((await leader.get(s.id)).outbox).toBeUndefined();
    });
  });
});
