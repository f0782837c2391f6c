/**
 * The conformance suite's contracts, read at run time from a descriptor set built from the Go
 * module's protos (`buf build`, in .ci/run): neither their code nor their protos are committed.
 */
import { readFileSync } from "node:fs";
import {
  createFileRegistry,
  type DescMessage,
  type DescService,
  fromBinary,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** The proto package of the suite's messages and service. */
export const conformancePackage = "connectrpc.conformance.v1";

/** The suite's service and messages, resolved from a descriptor set. */
export interface ConformanceSchema {
  /** Every file of the set, imports included: resolves the types packed into Any for JSON. */
  readonly registry: Registry;
  /** connectrpc.conformance.v1.ConformanceService */
  readonly service: DescService;
  /** A message of the suite's package by its short name, e.g. `message("UnaryRequest")`. */
  message(name: string): DescMessage;
}

/** Reads a FileDescriptorSet (binary) and resolves the suite's service from it. */
export function loadConformanceSchema(descriptorSetFile: string): ConformanceSchema {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetFile));
  const registry = createFileRegistry(set);
  const service = registry.getService(`${conformancePackage}.ConformanceService`);
  if (service === undefined) {
    throw new Error(`${descriptorSetFile} has no ${conformancePackage}.ConformanceService`);
  }
  return {
    registry,
    service,
    message(name) {
      const desc = registry.getMessage(`${conformancePackage}.${name}`);
      if (desc === undefined) {
        throw new Error(`${descriptorSetFile} has no message ${conformancePackage}.${name}`);
      }
      return desc;
    },
  };
}
