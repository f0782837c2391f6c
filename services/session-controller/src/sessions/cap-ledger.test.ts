import { createLogger } from "@lucid-rdp/runtime";
import { createMemoryCollection, MemoryCounters } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { CapExceededError } from "../domain/caps.js";
import type { SessionRecord } from "../store/records.js";
import { sessionSpec } from "../store/specs.js";
import { CapLedger } from "./cap-ledger.js";

/** A store holding sessions of these users in these states, and a ledger over empty counters. */
async function restarted(sessions: [user: string, state: SessionRecord["state"]][]) {
  const store = createMemoryCollection(sessionSpec);
  for (const [i, [user, state]] of sessions.entries()) {
    await store.insert({ id: `s${i}`, user, state, serverId: `srv${i}` } as never);
  }
  // Counters in the process start empty after a restart (REDIS_URL unset).
  const counters = new MemoryCounters();
  const ledger = new CapLedger({
    store,
    counters,
    caps: { perUser: 2, total: 3 },
    logger: createLogger({ service: "test", level: "silent" }),
    clock: () => new Date(),
  });
  return { ledger, counters };
}

describe("CapLedger", () => {
  describe("recountAll()", () => {
    it("sets the caps from the sessions kept, so a restart does not hand out a user's cap again", async () => {
      const { ledger } = await restarted([
        ["ann", "READY"],
        ["ann", "ACTIVE"],
        ["bob", "TERMINATED"],
        ["bob", "FAILED"],
      ]);
      expect(await ledger.recountAll()).toBe(2);
      await expect(ledger.take("ann")).rejects.toBeInstanceOf(CapExceededError);
      await ledger.take("bob");
      // The total (3) is now full: ann's two and bob's new one.
      await expect(ledger.take("cid")).rejects.toBeInstanceOf(CapExceededError);
    });

    it("makes a take that starts during the recount wait for it", async () => {
      const { ledger } = await restarted([
        ["ann", "READY"],
        ["ann", "READY"],
      ]);
      const counted = ledger.recountAll();
      await expect(ledger.take("ann")).rejects.toBeInstanceOf(CapExceededError);
      expect(await counted).toBe(2);
    });
  });
});
