/** Reading a paged List RPC to its end. */

/** One page as `listAll` needs it: its items, the next page token ("" at the end), the event id. */
export interface ListPage<T> {
  readonly items: T[];
  readonly next: string;
  readonly lastEventId?: string;
}

/**
 * Every page of a List RPC, and the event id to resume a watch from (the first page's, so that
 * nothing changed while paging is missed).
 */
export async function listAll<T>(
  page: (pageToken: string) => Promise<ListPage<T>>,
): Promise<{ items: T[]; lastEventId: string }> {
  const items: T[] = [];
  let token = "";
  let lastEventId: string | undefined;
  do {
    const r = await page(token);
    items.push(...r.items);
    lastEventId ??= r.lastEventId;
    token = r.next;
  } while (token !== "");
  return { items, lastEventId: lastEventId ?? "" };
}
