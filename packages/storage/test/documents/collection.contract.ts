/**
 * THE contract of the Collection port, run against every adapter (memory and MongoDB-wire) and for
 * every collection of the mesh: CRUD, optimistic concurrency, uniqueness, filters, paging, expiry.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Changes, Collection, NewRecord, Versioned, Where } from "../../src/index.js";
import {
  AlreadyExistsError,
  ConflictError,
  InvalidPageTokenError,
  NotFoundError,
} from "../../src/index.js";

export interface CollectionFixture<T extends Versioned> {
  /** Makes a valid new record; `i` keeps unique keys distinct. */
  make(id: string, i: number): NewRecord<T>;
  /** A change that touches no unique key. */
  change: Changes<T>;
  /** A filter, and which of the records made with i = 0..5 it selects. */
  filter: { where: Where<T>; selects: (i: number) => boolean };
  /** A pair that breaks a uniqueness rule, and a change to `first` that ends the clash. */
  clash?: {
    rule: string;
    /** A fresh pair of makers sharing one unique key. */
    pair(): { first(id: string): NewRecord<T>; second(id: string): NewRecord<T> };
    release: Changes<T>;
  };
}

export type OpenCollection<T extends Versioned> = () => Promise<Collection<T>>;

const id = () => randomUUID();

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

/** Registers the contract tests of one collection on one adapter. */
export function describeCollectionContract<T extends Versioned>(
  name: string,
  fixture: CollectionFixture<T>,
  open: OpenCollection<T>,
): void {
  describe(`${name} collection`, () => {
    describe("insert() and get()", () => {
      it("stores a record with version 1 and both times set, and returns it", async () => {
        const c = await open();
        const rec = fixture.make(id(), 0);
        const inserted = await c.insert(rec);
        expect(inserted).toMatchObject({ ...rec, version: 1 });
        expect(inserted.createTime).toBeInstanceOf(Date);
        expect(inserted.updateTime.getTime()).toBe(inserted.createTime.getTime());
        const got = await c.get(rec.id);
        expect(got).toEqual(inserted);
        expect(await c.find(rec.id)).toEqual(inserted);
      });

      it("refuses a second record with the same id", async () => {
        const c = await open();
        const key = id();
        await c.insert(fixture.make(key, 0));
        const err = await rejection(c.insert(fixture.make(key, 1)));
        expect(err).toBeInstanceOf(AlreadyExistsError);
        expect((err as AlreadyExistsError).key).toBe("id");
      });

      it("answers NotFoundError for an unknown id, and find() undefined", async () => {
        const c = await open();
        const missing = id();
        const err = await rejection(c.get(missing));
        expect(err).toBeInstanceOf(NotFoundError);
        expect((err as NotFoundError).id).toBe(missing);
        expect(await c.find(missing)).toBeUndefined();
      });

      it("hands out copies: changing a returned record changes nothing stored", async () => {
        const c = await open();
        const rec = fixture.make(id(), 0);
        const inserted = (await c.insert(rec)) as unknown as Record<string, unknown>;
        inserted.version = 99;
        expect((await c.get(rec.id)).version).toBe(1);
      });
    });

    describe("update()", () => {
      it("applies changes at the expected version and moves the version on", async () => {
        const c = await open();
        const rec = await c.insert(fixture.make(id(), 0));
        const updated = await c.update(rec.id, 1, fixture.change);
        expect(updated).toMatchObject({ ...fixture.change, version: 2, id: rec.id });
        expect(updated.createTime.getTime()).toBe(rec.createTime.getTime());
        expect(await c.get(rec.id)).toEqual(updated);
      });

      it("fails with ConflictError when the version moved on", async () => {
        const c = await open();
        const rec = await c.insert(fixture.make(id(), 0));
        await c.update(rec.id, 1, fixture.change);
        const err = await rejection(c.update(rec.id, 1, fixture.change));
        expect(err).toBeInstanceOf(ConflictError);
        expect(await c.get(rec.id)).toMatchObject({ version: 2 });
      });

      it("lets exactly one of several concurrent writers of the same version win", async () => {
        const c = await open();
        const rec = await c.insert(fixture.make(id(), 0));
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => c.update(rec.id, 1, fixture.change)),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected");
        expect(won).toHaveLength(1);
        for (const l of lost)
          expect((l as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
        expect((await c.get(rec.id)).version).toBe(2);
      });

      it("fails with NotFoundError for an unknown id", async () => {
        const c = await open();
        expect(await rejection(c.update(id(), 1, fixture.change))).toBeInstanceOf(NotFoundError);
      });
    });

    describe("delete()", () => {
      it("deletes at the expected version, and refuses a stale one", async () => {
        const c = await open();
        const rec = await c.insert(fixture.make(id(), 0));
        await c.update(rec.id, 1, fixture.change);
        expect(await rejection(c.delete(rec.id, 1))).toBeInstanceOf(ConflictError);
        await c.delete(rec.id, 2);
        expect(await c.find(rec.id)).toBeUndefined();
        expect(await rejection(c.delete(rec.id))).toBeInstanceOf(NotFoundError);
      });
    });

    describe("list()", () => {
      it("pages through every match exactly once, newest first", async () => {
        const c = await open();
        const made: T[] = [];
        for (let i = 0; i < 6; i++) made.push(await c.insert(fixture.make(id(), i)));
        const ids = new Set(made.map((r) => r.id));
        const expected = made
          .filter((_, i) => fixture.filter.selects(i))
          .sort((a, b) => b.createTime.getTime() - a.createTime.getTime() || (a.id < b.id ? 1 : -1))
          .map((r) => r.id);
        const seen: string[] = [];
        let pageToken = "";
        let pages = 0;
        do {
          const page = await c.list({ where: fixture.filter.where, pageSize: 2, pageToken });
          expect(page.items.length).toBeLessThanOrEqual(2);
          // Other tests share the collection: keep only this test's records.
          seen.push(...page.items.map((r) => r.id).filter((x) => ids.has(x)));
          pageToken = page.nextPageToken;
          pages++;
        } while (pageToken !== "" && pages < 100);
        expect(seen).toEqual(expected);
      });

      it("refuses a page token it did not issue", async () => {
        const c = await open();
        expect(await rejection(c.list({ pageToken: "not-a-token" }))).toBeInstanceOf(
          InvalidPageTokenError,
        );
      });

      it("counts, finds one and deletes by filter", async () => {
        const c = await open();
        const tag = id();
        const made: T[] = [];
        for (let i = 0; i < 6; i++) made.push(await c.insert(fixture.make(`${tag}-${i}`, i)));
        const mine = { id: { in: made.map((r) => r.id) } } as unknown as Where<T>;
        expect(await c.count(mine)).toBe(6);
        const selected = made.filter((_, i) => fixture.filter.selects(i));
        const one = await c.findOne({ ...mine, ...fixture.filter.where });
        expect(selected.map((r) => r.id)).toContain(one?.id);
        expect(await c.deleteWhere({ ...mine, ...fixture.filter.where })).toBe(selected.length);
        expect(await c.count(mine)).toBe(6 - selected.length);
      });
    });

    if (fixture.clash) {
      const clash = fixture.clash;
      describe(`uniqueness (${clash.rule})`, () => {
        it("refuses a record that breaks the rule, naming it, until the first one lets go", async () => {
          const c = await open();
          const pair = clash.pair();
          const a = await c.insert(pair.first(id()));
          const b = pair.second(id());
          const err = await rejection(c.insert(b));
          expect(err).toBeInstanceOf(AlreadyExistsError);
          expect((err as AlreadyExistsError).key).toBe(clash.rule);
          await c.update(a.id, 1, clash.release);
          expect((await c.insert(b)).id).toBe(b.id);
          // ...and now the first cannot take the key back.
          const back = Object.fromEntries(
            Object.keys(clash.release).map((k) => [k, (a as Record<string, unknown>)[k]]),
          ) as Changes<T>;
          expect(await rejection(c.update(a.id, 2, back))).toBeInstanceOf(AlreadyExistsError);
          // ...and the refused write leaves version 2 free for the next writer.
          expect((await c.update(a.id, 2, clash.release)).version).toBe(3);
        });

        it("lets exactly one of concurrent inserts that break the rule win", async () => {
          const c = await open();
          const pair = clash.pair();
          const rivals = [pair.first(id()), ...Array.from({ length: 5 }, () => pair.second(id()))];
          const results = await Promise.allSettled(rivals.map((r) => c.insert(r)));
          expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        });
      });
    }

    it("honours an aborted signal", async () => {
      const c = await open();
      const ac = new AbortController();
      ac.abort(new Error("caller gave up"));
      expect(await rejection(c.get(id(), { signal: ac.signal }))).toBeInstanceOf(Error);
    });
  });
}
