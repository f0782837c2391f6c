/**
 * The server under test the conformance runner starts (`connectconformance --mode server -- node
 * <bundle> <descriptor set>`): reads a size-delimited ServerCompatRequest from stdin, starts the
 * ConformanceService on packages/runtime, writes the size-delimited ServerCompatResponse to
 * stdout, then serves until SIGTERM. Logs go to stderr, since stdout carries the response.
 *
 * Env: LOG_LEVEL (@default "error": the suite provokes thousands of client errors, which the
 * runtime logs at warn), and any runtime variable the request does not decide.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { createLogger, exitOnSignals, type LogLevel, logLevels } from "@lucid-rdp/runtime";
import { loadConformanceSchema } from "./conformance-schema.js";
import type { ServerCompatRequestShape } from "./conformance-shapes.js";
import { readSizeDelimited, sizeDelimited } from "./size-delimited.js";
import { startConformanceServer } from "./start-conformance-server.js";

const descriptorSet = process.argv[2];
if (descriptorSet === undefined) {
  process.stderr.write("usage: main <conformance descriptor set (.binpb)>\n");
  process.exit(2);
}
const level = (logLevels as readonly string[]).includes(process.env.LOG_LEVEL ?? "")
  ? (process.env.LOG_LEVEL as LogLevel)
  : "error";
const logger = createLogger({ service: "conformance", level, destination: process.stderr });
const schema = loadConformanceSchema(descriptorSet);
const request = fromBinary(
  schema.message("ServerCompatRequest"),
  await readSizeDelimited(process.stdin),
) as ServerCompatRequestShape;
const { server, response } = await startConformanceServer({
  schema,
  request,
  logger,
  env: { ...process.env, LOG_LEVEL: level },
});
process.stdout.write(sizeDelimited(toBinary(schema.message("ServerCompatResponse"), response)));
exitOnSignals(server, logger);
