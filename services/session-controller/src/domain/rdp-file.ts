/**
 * The body of a .rdp file for a session. The format is `name:type:value` lines with no escaping:
 * a CR or LF in a value would start a new setting (for example a second `full address`), so every
 * value is checked against an allowlist and refused with RdpFileValueError, never cleaned. The
 * output is ASCII with CRLF line endings, as mstsc writes it.
 */
import { isIPv6 } from "node:net";
import { isUserName } from "./user-name.js";

/** What goes into a .rdp file. */
export interface RdpFileOptions {
  /** A DNS name, a dotted IPv4 address or a bracketed IPv6 address (`[2001:db8::1]`). */
  readonly host: string;
  /** 1 to 65535. */
  readonly port: number;
  /** 200 to 8192 pixels. */
  readonly width: number;
  /** 200 to 8192 pixels. */
  readonly height: number;
  /** 8, 15, 16, 24 or 32 bits per pixel. */
  readonly colorDepth: number;
  /** Span the desktop over all the client's monitors. */
  readonly multimon: boolean;
  /** The user name to log in with (the contract's user rule); absent: the client asks. */
  readonly username?: string;
  /**
   * The routing token of the node's RDP front door, written as `loadbalanceinfo:s:` (which the
   * client sends in its X.224 Connection Request): 1 to 200 of `A-Za-z0-9._~-`. Absent: none.
   */
  readonly routingToken?: string;
}

/** The name of an RdpFileOptions field. */
export type RdpFileField = keyof RdpFileOptions;

/**
 * Thrown when a value may not go into a .rdp file. The message names the field and the rule, never
 * the value (it may hold control characters).
 */
export class RdpFileValueError extends Error {
  override readonly name = "RdpFileValueError";
  constructor(
    readonly field: RdpFileField,
    rule: string,
  ) {
    super(`rdp file: ${field} must be ${rule}`);
  }
}

const colorDepths: readonly number[] = [8, 15, 16, 24, 32];
/**
 * A routing token: unreserved URL characters only, so it holds no CR, LF, space, `:` or byte a
 * client would mangle, and at most 200 of them (well inside the 259-byte X.224 request).
 */
const routingToken = /^[A-Za-z0-9._~-]{1,200}$/;
const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ipv4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a DNS name, a dotted IPv4 address or a bracketed IPv6 address. */
export function isRdpHost(host: string): boolean {
  if (typeof host !== "string" || host.length === 0 || host.length > 253) return false;
  if (host.startsWith("[") && host.endsWith("]")) {
    const address = host.slice(1, -1);
    // Only hex digits, colons and dots (an embedded IPv4): no zone ids.
    return /^[0-9A-Fa-f:.]+$/.test(address) && isIPv6(address);
  }
  if (ipv4.test(host)) return true;
  const labels = host.split(".");
  // A name whose last label is all digits is a malformed IPv4 address, not a name.
  return labels.every((l) => label.test(l)) && !/^\d+$/.test(labels[labels.length - 1] ?? "");
}

/** Renders the .rdp file body, or throws RdpFileValueError naming the first bad field. */
export function renderRdpFile(options: RdpFileOptions): string {
  const { host, port, width, height, colorDepth, multimon, username } = options;
  const token = options.routingToken;
  if (!isRdpHost(host)) {
    throw new RdpFileValueError("host", "a DNS name, an IPv4 address or a bracketed IPv6 address");
  }
  if (!isIntegerIn(port, 1, 65_535))
    throw new RdpFileValueError("port", "an integer from 1 to 65535");
  if (!isIntegerIn(width, 200, 8192))
    throw new RdpFileValueError("width", "an integer from 200 to 8192");
  if (!isIntegerIn(height, 200, 8192)) {
    throw new RdpFileValueError("height", "an integer from 200 to 8192");
  }
  if (!colorDepths.includes(colorDepth)) {
    throw new RdpFileValueError("colorDepth", "8, 15, 16, 24 or 32");
  }
  if (typeof multimon !== "boolean") throw new RdpFileValueError("multimon", "true or false");
  if (username !== undefined && !isUserName(username)) {
    throw new RdpFileValueError(
      "username",
      "1 to 64 letters, digits and `_.@-`, not starting with `.`, `@` or `-`",
    );
  }
  if (token !== undefined && (typeof token !== "string" || !routingToken.test(token))) {
    throw new RdpFileValueError("routingToken", "1 to 200 letters, digits and `._~-`");
  }
  const lines = [
    `full address:s:${host}:${port}`,
    "screen mode id:i:1",
    `use multimon:i:${multimon ? 1 : 0}`,
    `desktopwidth:i:${width}`,
    `desktopheight:i:${height}`,
    `session bpp:i:${colorDepth}`,
    "prompt for credentials:i:1",
    "authentication level:i:2",
  ];
  if (username !== undefined) lines.push(`username:s:${username}`);
  if (token !== undefined) lines.push(`loadbalanceinfo:s:${token}`);
  return `${lines.join("\r\n")}\r\n`;
}

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}
