/**
 * The baseline of the cold-start benchmark: a bare @grpc/grpc-js server with grpc-health-check
 * reporting SERVING, and nothing else; bundled with esbuild like the services. Reads PORT and
 * HOST from env like they do.
 */
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

const port = Number(process.env.PORT ?? "50051");
const host = process.env.HOST ?? "127.0.0.1";
const health = new HealthImplementation({ "": "SERVING" });
const server = new grpc.Server();
health.addToServer(server);
server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    process.stderr.write(`bind failed: ${err.message}\n`);
    process.exit(1);
  }
});
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
