/**
 * Bearer-token auth: JWTs verified with `jose` (an HS256 shared secret or a JWKS URL; issuer,
 * audience and an algorithm allowlist), and per-method roles read from the contracts' own
 * `(lucid.rdp.v1.access)` method option. Health and reflection stay open, as /metrics does.
 */
import { type DescMethod, getOption, hasOption } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { access, Role } from "@lucid-rdp/gen";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AuthConfig } from "./runtime-config.js";

/** Who is calling, as established by the token. */
export interface Principal {
  /** The `sub` claim. */
  readonly subject: string;
  readonly roles: ReadonlySet<Role>;
}

/** Handlers read the caller from `ctx.values.get(principalKey)`; undefined when auth is off. */
export const principalKey = createContextKey<Principal | undefined>(undefined);

/** Services that never require a token. */
export const openServices: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

const roleNames: Record<string, Role> = {
  viewer: Role.VIEWER,
  operator: Role.OPERATOR,
  service: Role.SERVICE,
};

/** The roles claim names of each Role. */
export function roleName(role: Role): string {
  return Object.entries(roleNames).find(([, r]) => r === role)?.[0] ?? "unknown";
}

/** Verifies bearer tokens. */
export interface Authenticator {
  /** Resolves the principal of an `Authorization` header value, or throws UNAUTHENTICATED. */
  authenticate(authorization: string | null | undefined): Promise<Principal>;
}

/** Creates an authenticator for a JWT auth config. */
export function createAuthenticator(cfg: Extract<AuthConfig, { mode: "jwt" }>): Authenticator {
  const key: Uint8Array | JWTVerifyGetKey =
    cfg.secret !== undefined
      ? new TextEncoder().encode(cfg.secret)
      : createRemoteJWKSet(new URL(cfg.jwksUrl as string));
  return {
    async authenticate(authorization) {
      // The scheme is case-insensitive (RFC 9110, section 11.1).
      const m = /^Bearer +([A-Za-z0-9\-_.]+)$/i.exec(authorization ?? "");
      if (m === null) {
        throw new ConnectError("missing bearer token", Code.Unauthenticated);
      }
      let payload: JWTPayload;
      try {
        const verified = await (typeof key === "function"
          ? jwtVerify(m[1] as string, key, verifyOptions(cfg))
          : jwtVerify(m[1] as string, key, verifyOptions(cfg)));
        payload = verified.payload;
      } catch (e) {
        // jose's messages ("signature verification failed", '"exp" claim timestamp check failed')
        // say what is wrong without revealing anything secret.
        const reason = e instanceof Error ? e.message : "invalid token";
        throw new ConnectError(
          `invalid token: ${reason}`,
          Code.Unauthenticated,
          undefined,
          undefined,
          e,
        );
      }
      const claim = payload.roles;
      const roles = new Set<Role>();
      if (Array.isArray(claim)) {
        for (const r of claim) {
          const role = typeof r === "string" ? roleNames[r] : undefined;
          if (role !== undefined) roles.add(role);
        }
      }
      return { subject: payload.sub ?? "", roles };
    },
  };
}

function verifyOptions(cfg: Extract<AuthConfig, { mode: "jwt" }>) {
  return {
    algorithms: [...cfg.algorithms],
    issuer: cfg.issuer,
    audience: cfg.audience,
    requiredClaims: ["exp", "sub"],
  };
}

/** The roles allowed to call `method`, or undefined when any authenticated caller may. */
export function allowedRoles(method: DescMethod): readonly Role[] | undefined {
  if (!hasOption(method, access)) return undefined;
  return getOption(method, access).roles;
}

/**
 * Authenticates `authorization` and checks the roles `method` requires. Resolves the caller (or
 * undefined for an open service), throws UNAUTHENTICATED or PERMISSION_DENIED. The edge adapter
 * calls it from the headers alone, before any body byte is read.
 */
export async function authorize(
  authenticator: Authenticator,
  method: DescMethod,
  authorization: string | null | undefined,
): Promise<Principal | undefined> {
  if (openServices.has(method.parent.typeName)) return undefined;
  const principal = await authenticator.authenticate(authorization);
  const allowed = allowedRoles(method);
  if (allowed !== undefined && !allowed.some((r) => principal.roles.has(r))) {
    throw new ConnectError(
      `${method.parent.typeName}/${method.name} requires one of the roles ${allowed.map(roleName).join(", ")}`,
      Code.PermissionDenied,
    );
  }
  return principal;
}

/**
 * Checks the token and the method's roles on every call, except for open services. A call the
 * edge adapter already authorized (the principal is in its context values) is not checked twice.
 */
export function authInterceptor(authenticator: Authenticator): Interceptor {
  return (next) => async (req) => {
    if (req.contextValues.get(principalKey) !== undefined) return next(req);
    const principal = await authorize(authenticator, req.method, req.header.get("authorization"));
    if (principal !== undefined) req.contextValues.set(principalKey, principal);
    return next(req);
  };
}
