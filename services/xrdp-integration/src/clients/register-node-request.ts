/** RegisterNode's request, built from the node's registration and status (the proto mapping). */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  EndpointSchema,
  PortRangeSchema,
  type RegisterNodeRequest,
  RegisterNodeRequestSchema,
} from "@lucid-rdp/gen";
import type { NodeRegistration, NodeStatus } from "../domain/node-registration.js";

/** The most characters `status_message` may hold (the contract's max_len). */
export const statusMessageMaxChars = 256;
const xrdpVersionPattern = /^[A-Za-z0-9._+~-]{0,64}$/;

/**
 * Makes `s` fit the contract's `status_message`: control characters (C0, DEL, C1) become spaces
 * and the text is cut to 256 characters (code points, as protovalidate counts them).
 */
export function toStatusMessage(s: string): string {
  const chars = Array.from(s, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x20 || (n >= 0x7f && n <= 0x9f) ? " " : c;
  });
  if (chars.length <= statusMessageMaxChars) return chars.join("");
  return `${chars.slice(0, statusMessageMaxChars - 1).join("")}…`;
}

/** Builds one heartbeat's RegisterNodeRequest. Pure: same inputs, same request. */
export function buildRegisterNodeRequest(
  node: NodeRegistration,
  status: NodeStatus,
): RegisterNodeRequest {
  const version = node.xrdpVersion ?? "";
  return create(RegisterNodeRequestSchema, {
    nodeId: node.nodeId,
    address: create(EndpointSchema, { host: node.advertiseHost, port: node.apiPort }),
    rdpHost: node.rdpHost,
    maxServers: node.maxServers,
    portRange: create(PortRangeSchema, { start: node.portRange.start, end: node.portRange.end }),
    labels: { ...node.labels },
    leaseTtl: durationFromMs(node.leaseTtlMs),
    serving: status.serving,
    statusMessage: status.serving
      ? ""
      : toStatusMessage(
          status.message === undefined || status.message === "" ? "not serving" : status.message,
        ),
    xrdpVersion: xrdpVersionPattern.test(version) ? version : "",
    rdpDoorPort: node.rdpDoorPort ?? 0,
    warmPoolTarget: Math.min(status.warmPool?.target ?? 0, 1000),
    warmPoolReady: Math.min(status.warmPool?.ready ?? 0, 1000),
  });
}
