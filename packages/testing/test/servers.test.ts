import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptsConnections,
  MissingToolError,
  type RealServer,
  startMongoWire,
  startRedis,
} from "../src/index.js";

/** Starts a server, or reports the missing tool (outside CI) and resolves undefined. */
async function startOrReport(
  start: () => Promise<RealServer>,
  test: string,
): Promise<RealServer | undefined> {
  try {
    return await start();
  } catch (error) {
    if (error instanceof MissingToolError) {
      error.report(test);
      return undefined;
    }
    throw error;
  }
}

/** Sends the inline command PING over a raw socket and resolves with the first reply line. */
function redisPing(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    socket.once("error", reject);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk: Buffer) => {
      data += chunk.toString();
      if (data.includes("\r\n")) {
        socket.destroy();
        resolve(data.slice(0, data.indexOf("\r\n")));
      }
    });
  });
}

/** The `mongodb` driver, when it resolves; the harness itself does not need it. */
async function loadDriver(): Promise<typeof import("mongodb") | undefined> {
  try {
    return await import("mongodb");
  } catch {
    return undefined;
  }
}

describe("servers", () => {
  describe("startRedis()", () => {
    let redis: RealServer | undefined;
    beforeAll(async () => {
      redis = await startOrReport(startRedis, "servers > startRedis()");
    });
    afterAll(async () => {
      await redis?.close();
    });

    it("starts a redis-server that answers PING on its port", async (ctx) => {
      if (redis === undefined) return ctx.skip();
      expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
      expect(redis.controllable).toBe(true);
      expect(await redisPing(redis.port)).toBe("+PONG");
    });

    it("stop() makes the port refuse connections and start() brings it back", async (ctx) => {
      if (redis === undefined) return ctx.skip();
      await redis.stop();
      expect(await acceptsConnections(redis.port)).toBe(false);
      await expect(redisPing(redis.port)).rejects.toThrow(/ECONNREFUSED/);
      await redis.start();
      expect(await redisPing(redis.port)).toBe("+PONG");
    });
  });

  describe("startMongoWire()", () => {
    let mongo: RealServer | undefined;
    let driver: typeof import("mongodb") | undefined;
    beforeAll(async () => {
      mongo = await startOrReport(startMongoWire, "servers > startMongoWire()");
      driver = await loadDriver();
      if (driver === undefined) {
        process.stderr.write(
          "\n!!! servers > startMongoWire(): the mongodb driver does not resolve; " +
            "checking TCP only, not data across a restart\n\n",
        );
      }
    });
    afterAll(async () => {
      await mongo?.close();
    });

    /** Runs `body` with a connected client, closing it afterwards. */
    async function withClient<T>(
      server: RealServer,
      body: (client: import("mongodb").MongoClient) => Promise<T>,
    ): Promise<T> {
      const client = new driver!.MongoClient(server.url, { serverSelectionTimeoutMS: 5_000 });
      try {
        await client.connect();
        return await body(client);
      } finally {
        await client.close();
      }
    }

    it("answers a driver round trip (or, without the driver, accepts TCP)", async (ctx) => {
      if (mongo === undefined) return ctx.skip();
      if (driver === undefined) {
        expect(await acceptsConnections(mongo.port)).toBe(true);
        return;
      }
      const found = await withClient(mongo, async (client) => {
        const collection = client.db(`servers_test_${process.pid}`).collection("round_trip");
        await collection.insertOne({ _id: "a" as never, n: 1 });
        return collection.findOne({ _id: "a" as never });
      });
      expect(found).toEqual({ _id: "a", n: 1 });
    });

    it("stop() refuses connections; start() serves the data written before the stop", async (ctx) => {
      if (mongo === undefined) return ctx.skip();
      if (!mongo.controllable) {
        await expect(mongo.stop()).rejects.toThrow(/outage tests need a server the test starts/);
        return ctx.skip("MONGODB_URI is set: the server cannot be stopped by the test");
      }
      const db = `servers_restart_${process.pid}`;
      if (driver !== undefined) {
        await withClient(mongo, (client) =>
          client
            .db(db)
            .collection("kept")
            .insertOne({ _id: "before-stop" as never, v: 42 }),
        );
      }
      await mongo.stop();
      expect(await acceptsConnections(mongo.port)).toBe(false);
      await mongo.start();
      expect(await acceptsConnections(mongo.port)).toBe(true);
      if (driver !== undefined) {
        const kept = await withClient(mongo, (client) =>
          client
            .db(db)
            .collection("kept")
            .findOne({ _id: "before-stop" as never }),
        );
        expect(kept).toEqual({ _id: "before-stop", v: 42 });
      }
    });
  });
});
