/**
 * @lucid-rdp/gen: the generated contracts of the Lucid RDP control plane (package lucid.rdp.v1).
 *
 * Messages, enums and service descriptors come from `buf generate` (protoc-gen-es v2, target=ts).
 * Clients: `@lucid-rdp/gen/node` (gRPC or Connect from Node.js) and `@lucid-rdp/gen/web`
 * (Connect or gRPC-web from browsers).
 */
export * from "./src/index.js";
