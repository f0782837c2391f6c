/** What session-controller tells the page at /console/config.json. */

/** Where the other two services answer, and whether the RPCs need a bearer token. */
export interface PageConfig {
  serverManagerUrl?: string;
  resourceMonitorUrl?: string;
  authRequired: boolean;
}

/** Fetches /console/config.json from the page's own origin. */
export async function fetchPageConfig(): Promise<PageConfig> {
  return (await (await fetch("/console/config.json")).json()) as PageConfig;
}
