/**
 * The console's transport: the generated clients over Connect-web (JSON, HTTP/1.1 fetch), with
 * the bearer token the user pasted in when the page config says auth is on.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { createWebClient } from "@lucid-rdp/gen/web";
import type { PageConfig } from "./page-config.js";

/** The localStorage key of the bearer token. */
export const tokenKey = "lucid-rdp-console-token";

/** The stored bearer token, "" when none. */
export const storedToken = () => localStorage.getItem(tokenKey) ?? "";

/** Makes a client of `service` at `baseUrl`; it sends the stored token when auth is required. */
export type ClientFactory = <S extends DescService>(service: S, baseUrl: string) => Client<S>;

/** The client factory for this page's config. */
export function createClientFactory(cfg: PageConfig): ClientFactory {
  return <S extends DescService>(service: S, baseUrl: string) =>
    createWebClient(service, { baseUrl, token: cfg.authRequired ? storedToken : undefined });
}
