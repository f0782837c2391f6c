import type { Interceptor } from "@connectrpc/connect";

/** A bearer token, or a function returning the current one. */
export type TokenSource = string | (() => string | Promise<string>);

/** Sends `Authorization: Bearer <token>` on every call. */
export function bearerInterceptor(token: TokenSource): Interceptor {
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${typeof token === "string" ? token : await token()}`);
    return next(req);
  };
}
