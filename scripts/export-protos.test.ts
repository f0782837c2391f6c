/**
 * The printed buf/validate/validate.proto must compile to exactly the descriptor embedded in
 * @bufbuild/protovalidate: otherwise our contracts would be checked against rules that differ
 * from the ones the runtime validator enforces.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { clone, createRegistry, equals, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { describe, expect, it } from "vitest";
import { printProto } from "./export-protos.js";

describe("printProto()", () => {
  it("prints validate.proto so that buf compiles it back to the embedded descriptor", () => {
    const dir = mkdtempSync(join(tmpdir(), "validate-"));
    const file = join(dir, "buf/validate/validate.proto");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      printProto(file_buf_validate_validate.proto, createRegistry(file_buf_validate_validate)),
    );
    writeFileSync(join(dir, "buf.yaml"), "version: v2\n");
    const out = join(dir, "image.binpb");
    execFileSync(join(process.cwd(), "node_modules/.bin/buf"), ["build", "-o", out], { cwd: dir });
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(out));
    const ours = set.file.find((f) => f.name === "buf/validate/validate.proto");
    expect(ours).toBeDefined();
    if (ours === undefined) return;
    const theirs = clone(FileDescriptorProtoSchema, file_buf_validate_validate.proto);
    // buf records source positions and an explicit empty `syntax`/`edition`; the embedded
    // descriptor has neither. Everything else must match field for field.
    ours.sourceCodeInfo = undefined;
    ours.syntax = theirs.syntax;
    ours.edition = theirs.edition;
    const a = clone(FileDescriptorProtoSchema, ours);
    const b = clone(FileDescriptorProtoSchema, theirs);
    expect(a.messageType.length).toBe(b.messageType.length);
    expect(
      equals(
        FileDescriptorProtoSchema,
        { ...a, syntax: "", edition: 0 } as typeof a,
        {
          ...b,
          syntax: "",
          edition: 0,
        } as typeof b,
      ),
    ).toBe(true);
  });
});
