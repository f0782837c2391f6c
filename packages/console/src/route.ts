/** Pure: the console's hash routes: the dashboard, and one session's page at #/sessions/<id>. */

/** Where the page is: the dashboard, or the page of one session. */
export type Route =
  | { readonly view: "dashboard" }
  | { readonly view: "session"; readonly id: string };

const sessionRoute = /^#\/sessions\/([0-9a-f-]{36})$/;

/** The route of a location hash; anything unknown is the dashboard. */
export function parseRoute(hash: string): Route {
  const m = sessionRoute.exec(hash);
  return m?.[1] !== undefined ? { view: "session", id: m[1] } : { view: "dashboard" };
}

/** The hash of a session's page. */
export const sessionHref = (id: string) => `#/sessions/${id}`;
