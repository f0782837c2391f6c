/**
 * ListNodes' paging. Nodes are few and listed whole from the store, then filtered and ordered by
 * id in memory, so a page token is the id of the last node of the previous page ("after this
 * id"); the collection's tokens (create time + id) would not follow that order.
 */
import { defaultPageSize, InvalidPageTokenError, maxPageSize } from "@lucid-rdp/storage";

/** One page of items and the token of the next page (empty on the last page). */
export interface NodePage<T> {
  readonly items: T[];
  readonly nextPageToken: string;
}

const prefix = "nodes:";
const nodeIdPattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The token of the page after the node with id `lastId`. */
export function encodeNodePageToken(lastId: string): string {
  return Buffer.from(prefix + lastId).toString("base64url");
}

/**
 * The id a token was issued after. @throws InvalidPageTokenError for anything this module did
 * not issue (decoding is lenient in Node, so the token must also re-encode to itself).
 */
export function decodeNodePageToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString();
  const id = text.startsWith(prefix) ? text.slice(prefix.length) : "";
  if (!nodeIdPattern.test(id) || encodeNodePageToken(id) !== token) {
    throw new InvalidPageTokenError("nodes");
  }
  return id;
}

/**
 * The page of `items` (already filtered) after `pageToken`, ordered by `idOf`, of `pageSize`
 * items (0 for the default of 50, at most 1000).
 * @throws InvalidPageTokenError for a token this module did not issue
 */
export function pageOfNodes<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  pageSize: number,
  pageToken: string,
): NodePage<T> {
  const after = pageToken === "" ? undefined : decodeNodePageToken(pageToken);
  const sorted = [...items].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((i) => idOf(i) > after);
  const size = pageSize <= 0 ? defaultPageSize : Math.min(pageSize, maxPageSize);
  const page = rest.slice(0, size);
  const last = page[page.length - 1];
  return {
    items: page,
    nextPageToken: rest.length > size && last !== undefined ? encodeNodePageToken(idOf(last)) : "",
  };
}
