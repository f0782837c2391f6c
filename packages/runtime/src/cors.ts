/**
 * CORS for browsers (Connect-web, gRPC-web, the console): preflights answered, the request and
 * response headers Connect and gRPC-web need, and origins from config only.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { cors as connectCors } from "@connectrpc/connect";

export interface CorsPolicy {
  /** Whether a browser at `origin` may call. */
  allows(origin: string): boolean;
  /** Headers for the preflight answer. */
  preflightHeaders(origin: string): OutgoingHttpHeaders;
  /** Headers added to an actual response. */
  responseHeaders(origin: string): OutgoingHttpHeaders;
}

const allowHeaders = [...connectCors.allowedHeaders, "Authorization", "X-Request-Id"];
const exposeHeaders = [...connectCors.exposedHeaders, "X-Request-Id"];
const allowMethods = [...connectCors.allowedMethods, "OPTIONS"];

/**
 * Creates a policy from configured origins: exact origins, `scheme://host:*` for any port, or `*`.
 */
export function createCorsPolicy(origins: readonly string[]): CorsPolicy {
  const exact = new Set(origins.filter((o) => !o.endsWith(":*")));
  const anyPort = origins.filter((o) => o.endsWith(":*")).map((o) => o.slice(0, -2));
  const any = exact.has("*");
  const allows = (origin: string): boolean => {
    if (any || exact.has(origin)) return true;
    try {
      const u = new URL(origin);
      return anyPort.includes(`${u.protocol}//${u.hostname}`);
    } catch {
      return false;
    }
  };
  // Credentials (cookies, HTTP auth) only for origins named in config, never through "*".
  const common = (origin: string): OutgoingHttpHeaders => ({
    "access-control-allow-origin": origin,
    ...(any ? {} : { "access-control-allow-credentials": "true" }),
    vary: "Origin",
  });
  return {
    allows,
    preflightHeaders: (origin) => ({
      ...common(origin),
      "access-control-allow-methods": allowMethods.join(", "),
      "access-control-allow-headers": allowHeaders.join(", "),
      "access-control-max-age": "7200",
    }),
    responseHeaders: (origin) => ({
      ...common(origin),
      "access-control-expose-headers": exposeHeaders.join(", "),
    }),
  };
}

/** True for a CORS preflight request. */
export function isPreflight(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return method === "OPTIONS" && headers["access-control-request-method"] !== undefined;
}
