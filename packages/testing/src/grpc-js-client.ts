/**
 * A @grpc/grpc-js client built from the same protobuf-es descriptors the server uses: what other
 * Node services that use grpc-js see.
 */
import {
  createRegistry,
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { file_google_rpc_error_details } from "../../runtime/src/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../runtime/src/gen/google/rpc/status_pb.js";

function codec<D extends DescMessage>(desc: D) {
  return {
    serialize: (m: MessageShape<D>) => Buffer.from(toBinary(desc, m)),
    deserialize: (b: Buffer) => fromBinary(desc, b),
  };
}

/** Creates a grpc-js client of `service` at host:port, plaintext HTTP/2. */
export function createGrpcJsClient(service: DescService, address: string): grpc.Client {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) {
    const req = codec(m.input);
    const res = codec(m.output);
    def[m.localName] = {
      path: `/${service.typeName}/${m.name}`,
      requestStream: m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming",
      responseStream: m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming",
      requestSerialize: req.serialize,
      requestDeserialize: req.deserialize,
      responseSerialize: res.serialize,
      responseDeserialize: res.deserialize,
    } as grpc.MethodDefinition<unknown, unknown>;
  }
  const Ctor = grpc.makeGenericClientConstructor(def as grpc.ServiceDefinition, service.name);
  return new Ctor(address, grpc.credentials.createInsecure());
}

/** Decodes the google.rpc.Status details a server sent in grpc-status-details-bin. */
export function statusDetails(err: grpc.ServiceError) {
  const raw = err.metadata.get("grpc-status-details-bin")[0];
  if (raw === undefined) return [];
  const status = fromBinary(StatusSchema, raw as Buffer);
  const registry = createRegistry(file_google_rpc_error_details);
  return status.details.map((any) => anyUnpack(any, registry));
}
