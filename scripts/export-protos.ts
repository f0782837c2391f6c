/**
 * Materialises the third-party .proto files that our contracts import into the git-ignored folder
 * `.protos/`, which buf.yaml lists as a module of the workspace. Nothing here is committed:
 *
 * - buf/validate/validate.proto is printed from the file descriptor embedded in the installed
 *   @bufbuild/protovalidate package (the Buf Schema Registry is not reachable from CI), so the
 *   rules our protos use are exactly the rules the runtime validator enforces.
 * - google/rpc/error_details.proto and status.proto come from the google-proto-files package.
 * - grpc/health/v1/health.proto and grpc/reflection/{v1,v1alpha}/reflection.proto come from the
 *   grpc-health-check and @grpc/reflection packages.
 *
 * No npm package turns a descriptor back into .proto source, hence the small printer below.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createRegistry,
  type DescExtension,
  type DescMessage,
  getExtension,
  hasExtension,
  isFieldSet,
  type Message,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  file_google_protobuf_descriptor,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, ".protos");
const require = createRequire(import.meta.url);

/** Files copied verbatim from installed packages: [package-relative source, target path]. */
const copies: ReadonlyArray<readonly [string, string]> = [
  ["google-proto-files/google/rpc/error_details.proto", "google/rpc/error_details.proto"],
  ["google-proto-files/google/rpc/status.proto", "google/rpc/status.proto"],
  ["grpc-health-check/proto/health/v1/health.proto", "grpc/health/v1/health.proto"],
  [
    "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1/reflection.proto",
  ],
  [
    "@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
  ],
];

function packageFile(spec: string): string {
  const parts = spec.split("/");
  const pkgLen = spec.startsWith("@") ? 2 : 1;
  const pkg = parts.slice(0, pkgLen).join("/");
  const pkgJson = require.resolve(`${pkg}/package.json`);
  return join(dirname(pkgJson), ...parts.slice(pkgLen));
}

const typeNames: Record<number, string> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

function quote(s: string): string {
  return JSON.stringify(s);
}

/** Prints a message as protobuf text format, for option values. */
function textFormat(r: ReflectMessage, indent: string): string {
  const parts: string[] = [];
  for (const f of r.fields) {
    if (!r.isSet(f)) continue;
    const v = r.get(f);
    switch (f.fieldKind) {
      case "scalar":
        parts.push(`${f.name}: ${scalarText(f.scalar, v)}`);
        break;
      case "enum":
        parts.push(`${f.name}: ${f.enum.value[v as number]?.name ?? String(v)}`);
        break;
      case "message":
        parts.push(`${f.name}: ${textFormat(v as ReflectMessage, `${indent}  `)}`);
        break;
      case "list": {
        const items = [...(v as Iterable<unknown>)].map((item) =>
          f.listKind === "message"
            ? textFormat(item as ReflectMessage, `${indent}  `)
            : f.listKind === "enum"
              ? (f.enum.value[item as number]?.name ?? String(item))
              : scalarText(f.scalar, item),
        );
        parts.push(`${f.name}: [${items.join(", ")}]`);
        break;
      }
      case "map":
        throw new Error(`map option values are not supported (${f.name})`);
    }
  }
  if (parts.length === 0) return "{}";
  return `{\n${parts.map((p) => `${indent}  ${p}`).join("\n")}\n${indent}}`;
}

function scalarText(type: ScalarType, v: unknown): string {
  if (type === ScalarType.STRING) return quote(v as string);
  if (type === ScalarType.BYTES) return quote(Buffer.from(v as Uint8Array).toString("latin1"));
  return String(v);
}

/**
 * Renders the options of one element: known (descriptor.proto) options and custom options that
 * the registry can decode. Fails loudly on an option it cannot render, rather than dropping it.
 */
function renderOptions(
  opts: Message | undefined,
  desc: DescMessage,
  registry: Registry,
  indent: string,
): string[] {
  if (opts === undefined) return [];
  const r = reflect(desc, opts);
  const lines: string[] = [];
  for (const f of r.fields) {
    if (!r.isSet(f)) continue;
    if (f.name === "uninterpreted_option") continue;
    const v = r.get(f);
    if (f.fieldKind === "scalar") lines.push(`${f.name} = ${scalarText(f.scalar, v)}`);
    else if (f.fieldKind === "enum") lines.push(`${f.name} = ${f.enum.value[v as number]?.name}`);
    else throw new Error(`unsupported option ${desc.typeName}.${f.name}`);
  }
  const unknown = (opts as { $unknown?: { no: number }[] }).$unknown ?? [];
  const seen = new Set<number>();
  for (const u of unknown) {
    if (seen.has(u.no)) continue;
    seen.add(u.no);
    const ext = registry.getExtensionFor(desc, u.no);
    if (ext === undefined) throw new Error(`unknown option field ${u.no} on ${desc.typeName}`);
    lines.push(...renderExtension(opts, ext as DescExtension, registry, indent));
  }
  return lines;
}

function renderExtension(
  opts: Message,
  ext: DescExtension,
  _registry: Registry,
  indent: string,
): string[] {
  if (!hasExtension(opts, ext)) return [];
  const value: unknown = getExtension(opts, ext);
  const name = `(${ext.typeName})`;
  const one = (v: unknown): string => {
    if (ext.fieldKind === "message" || (ext.fieldKind === "list" && ext.listKind === "message")) {
      const md = ext.message as DescMessage;
      return textFormat(reflect(md, v as Message), indent);
    }
    if (ext.fieldKind === "enum") return ext.enum.value[v as number]?.name ?? String(v);
    if (ext.fieldKind === "scalar") return scalarText(ext.scalar, v);
    if (ext.fieldKind === "list" && ext.listKind === "scalar") return scalarText(ext.scalar, v);
    if (ext.fieldKind === "list" && ext.listKind === "enum")
      return ext.enum.value[v as number]?.name ?? String(v);
    throw new Error("unsupported extension kind");
  };
  if (ext.fieldKind === "list") return (value as unknown[]).map((v) => `${name} = ${one(v)}`);
  return [`${name} = ${one(value)}`];
}

function fieldType(f: FieldDescriptorProto): string {
  if (
    f.type === FieldDescriptorProto_Type.MESSAGE ||
    f.type === FieldDescriptorProto_Type.ENUM ||
    f.type === FieldDescriptorProto_Type.GROUP
  ) {
    return f.typeName; // fully qualified, with a leading dot: always resolves.
  }
  const t = typeNames[f.type];
  if (t === undefined) throw new Error(`unknown field type ${f.type}`);
  return t;
}

function optionsDesc(typeName: string): DescMessage {
  const d = file_google_protobuf_descriptor.messages.find((m) => m.typeName === typeName);
  if (d === undefined) throw new Error(`no descriptor for ${typeName}`);
  return d;
}

function renderField(
  f: FieldDescriptorProto,
  registry: Registry,
  indent: string,
  inOneof: boolean,
): string {
  const label = inOneof
    ? ""
    : f.label === FieldDescriptorProto_Label.REPEATED
      ? "repeated "
      : f.label === FieldDescriptorProto_Label.REQUIRED
        ? "required "
        : "optional ";
  const opts = renderOptions(
    f.options,
    optionsDesc("google.protobuf.FieldOptions"),
    registry,
    `${indent}  `,
  );
  if (isFieldSet(f, FieldDescriptorProtoSchema.field.defaultValue)) {
    opts.unshift(
      `default = ${f.type === FieldDescriptorProto_Type.STRING ? quote(f.defaultValue) : f.defaultValue}`,
    );
  }
  const optText =
    opts.length > 0 ? ` [\n${indent}  ${opts.join(`,\n${indent}  `)}\n${indent}]` : "";
  return `${indent}${label}${fieldType(f)} ${f.name} = ${f.number}${optText};`;
}

function renderEnum(e: EnumDescriptorProto, registry: Registry, indent: string): string[] {
  const lines = [`${indent}enum ${e.name} {`];
  for (const o of renderOptions(
    e.options,
    optionsDesc("google.protobuf.EnumOptions"),
    registry,
    `${indent}  `,
  ))
    lines.push(`${indent}  option ${o};`);
  for (const v of e.value) {
    const opts = renderOptions(
      v.options,
      optionsDesc("google.protobuf.EnumValueOptions"),
      registry,
      `${indent}  `,
    );
    lines.push(`${indent}  ${v.name} = ${v.number}${opts.length ? ` [${opts.join(", ")}]` : ""};`);
  }
  // Enum reserved ranges are inclusive at both ends, unlike message reserved ranges.
  for (const r of e.reservedRange) lines.push(`${indent}  reserved ${r.start} to ${r.end};`);
  if (e.reservedName.length > 0)
    lines.push(`${indent}  reserved ${e.reservedName.map(quote).join(", ")};`);
  lines.push(`${indent}}`);
  return lines;
}

function renderExtensions(
  exts: FieldDescriptorProto[],
  registry: Registry,
  indent: string,
): string[] {
  const lines: string[] = [];
  const byExtendee = new Map<string, FieldDescriptorProto[]>();
  for (const x of exts) byExtendee.set(x.extendee, [...(byExtendee.get(x.extendee) ?? []), x]);
  for (const [extendee, fields] of byExtendee) {
    lines.push(`${indent}extend ${extendee} {`);
    for (const f of fields) lines.push(renderField(f, registry, `${indent}  `, false));
    lines.push(`${indent}}`);
  }
  return lines;
}

function renderMessage(m: DescriptorProto, registry: Registry, indent: string): string[] {
  const lines = [`${indent}message ${m.name} {`];
  const inner = `${indent}  `;
  for (const o of renderOptions(
    m.options,
    optionsDesc("google.protobuf.MessageOptions"),
    registry,
    inner,
  ))
    lines.push(`${inner}option ${o};`);
  for (const e of m.enumType) lines.push(...renderEnum(e, registry, inner));
  for (const n of m.nestedType) {
    if (n.options?.mapEntry) throw new Error(`map fields are not supported (${m.name}.${n.name})`);
    lines.push(...renderMessage(n, registry, inner));
  }
  const printedOneofs = new Set<number>();
  for (const f of m.field) {
    const oi = isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex)
      ? f.oneofIndex
      : undefined;
    if (oi !== undefined && !f.proto3Optional) {
      if (printedOneofs.has(oi)) continue;
      printedOneofs.add(oi);
      const od = m.oneofDecl[oi];
      if (od === undefined) throw new Error(`bad oneof index in ${m.name}`);
      lines.push(`${inner}oneof ${od.name} {`);
      for (const o of renderOptions(
        od.options,
        optionsDesc("google.protobuf.OneofOptions"),
        registry,
        `${inner}  `,
      ))
        lines.push(`${inner}  option ${o};`);
      for (const g of m.field.filter(
        (x) => isFieldSet(x, FieldDescriptorProtoSchema.field.oneofIndex) && x.oneofIndex === oi,
      )) {
        lines.push(renderField(g, registry, `${inner}  `, true));
      }
      lines.push(`${inner}}`);
    } else {
      lines.push(renderField(f, registry, inner, false));
    }
  }
  for (const r of m.extensionRange) {
    const end = r.end - 1 === 536870911 ? "max" : String(r.end - 1);
    lines.push(`${inner}extensions ${r.start} to ${end};`);
  }
  for (const r of m.reservedRange) lines.push(`${inner}reserved ${r.start} to ${r.end - 1};`);
  if (m.reservedName.length > 0)
    lines.push(`${inner}reserved ${m.reservedName.map(quote).join(", ")};`);
  lines.push(...renderExtensions(m.extension, registry, inner));
  lines.push(`${indent}}`);
  return lines;
}

/** Prints a proto2 file descriptor as .proto source. */
export function printProto(file: FileDescriptorProto, registry: Registry): string {
  if (file.syntax !== "" && file.syntax !== "proto2") {
    throw new Error(`only proto2 files are supported, got ${file.syntax}`);
  }
  const lines = [
    `// Printed by scripts/export-protos.ts from the descriptor embedded in the installed`,
    `// @bufbuild/protovalidate package. Do not edit, do not commit.`,
    `syntax = "proto2";`,
    ``,
    `package ${file.package};`,
    ``,
  ];
  for (const d of file.dependency) lines.push(`import ${quote(d)};`);
  lines.push("");
  for (const o of renderOptions(
    file.options,
    optionsDesc("google.protobuf.FileOptions"),
    registry,
    "",
  ))
    lines.push(`option ${o};`);
  lines.push("");
  lines.push(...renderExtensions(file.extension, registry, ""));
  for (const e of file.enumType) lines.push(...renderEnum(e, registry, ""));
  for (const m of file.messageType) lines.push(...renderMessage(m, registry, ""));
  return `${lines.join("\n")}\n`;
}

export function main(): void {
  rmSync(out, { recursive: true, force: true });
  const validatePath = join(out, "buf/validate/validate.proto");
  mkdirSync(dirname(validatePath), { recursive: true });
  const registry = createRegistry(file_buf_validate_validate);
  writeFileSync(validatePath, printProto(file_buf_validate_validate.proto, registry));
  for (const [src, dst] of copies) {
    const target = join(out, dst);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(packageFile(src), target);
  }
  writeFileSync(
    join(out, "README.md"),
    "Generated by `npm run protos` (scripts/export-protos.ts) from installed packages. Git-ignored.\n",
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
