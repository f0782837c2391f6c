/**
 * The contracts' compiled descriptors WITH their comments (source info), for server reflection:
 * `grpcurl describe` then shows the documentation written in proto/. The generated descriptors
 * that protoc-gen-es embeds carry no comments.
 */
import { gunzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { sourceInfoGzBase64 } from "./src/source_info.js";

/** Decodes a gzipped, base64 FileDescriptorSet as written by scripts/gen-source-info.ts. */
export function decodeSourceInfo(gzBase64: string): FileDescriptorProto[] {
  return fromBinary(FileDescriptorSetSchema, gunzipSync(Buffer.from(gzBase64, "base64"))).file;
}

let cached: FileDescriptorProto[] | undefined;

/** The files of lucid.rdp.v1 with source info, decoded once. */
export function contractsSourceInfo(): FileDescriptorProto[] {
  cached ??= decodeSourceInfo(sourceInfoGzBase64);
  return cached;
}
