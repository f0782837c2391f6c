/** Where the three services the CLI talks to listen: flags, then env, then `npm start`'s ports. */
import { UsageError } from "./usage-error.js";

/** The services the CLI calls. */
export type ServiceKey = "sessionController" | "serverManager" | "resourceMonitor";

/** Per service: its flag, env variable and default URL. */
export const endpointSources: Readonly<
  Record<ServiceKey, { flag: string; env: string; url: string; name: string }>
> = {
  sessionController: {
    flag: "--session-controller",
    env: "LUCID_SESSION_CONTROLLER_URL",
    url: "http://127.0.0.1:8082",
    name: "session-controller",
  },
  serverManager: {
    flag: "--server-manager",
    env: "LUCID_SERVER_MANAGER_URL",
    url: "http://127.0.0.1:8081",
    name: "server-manager",
  },
  resourceMonitor: {
    flag: "--resource-monitor",
    env: "LUCID_RESOURCE_MONITOR_URL",
    url: "http://127.0.0.1:8090",
    name: "resource-monitor",
  },
};

/**
 * The base URL of `key`: `flagValue`, else its env variable, else the default. `host:port` gets
 * `http://`; anything else that is not an http(s) URL is a UsageError naming where it came from.
 */
export function resolveEndpoint(
  key: ServiceKey,
  flagValue: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const src = endpointSources[key];
  const envValue = env[src.env];
  const [raw, from] =
    flagValue !== undefined
      ? [flagValue, src.flag]
      : envValue !== undefined && envValue !== ""
        ? [envValue, src.env]
        : [src.url, "default"];
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${from}: "${raw}" is not a URL (e.g. http://127.0.0.1:8082)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`${from}: "${raw}" must be an http:// or https:// URL`);
  }
  return withScheme.replace(/\/+$/, "");
}
