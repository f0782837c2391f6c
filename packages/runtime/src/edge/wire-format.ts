/** How a request is framed and encoded, read from its content type, encoding headers and query. */

/** The request's protocol framing and message codec. */
export interface WireFormat {
  /** Messages are enveloped (gRPC, gRPC-web, Connect streaming): 5-byte prefix per message. */
  readonly enveloped: boolean;
  /** JSON messages (else binary protobuf). */
  readonly json: boolean;
  /** The compression the request names ("identity" when none). */
  readonly encoding: string;
  /** A Connect GET request: the message is in the query. */
  readonly get: boolean;
}

/** Reads the wire format of a request, or undefined when connect will refuse its content type. */
export function wireFormatOf(method: string, url: string, header: Headers): WireFormat | undefined {
  if (method === "GET") {
    const q = new URL(url).searchParams;
    const enc = q.get("encoding");
    if (enc !== "json" && enc !== "proto") return undefined;
    return {
      enveloped: false,
      json: enc === "json",
      encoding: q.get("compression") ?? "identity",
      get: true,
    };
  }
  const type = (header.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const m = /^application\/(grpc|grpc-web|connect|)\+?(proto|json)?$/.exec(
    type.replace(/^application\/(json|proto)$/, "application/+$1"),
  );
  if (m === null) return undefined;
  const [, family, codec] = m;
  const json = codec === "json";
  if (family === "") {
    return {
      enveloped: false,
      json,
      encoding: header.get("content-encoding") ?? "identity",
      get: false,
    };
  }
  const encoding =
    (family === "connect" ? header.get("connect-content-encoding") : header.get("grpc-encoding")) ??
    "identity";
  return { enveloped: true, json, encoding, get: false };
}
