import { describe, expect, it } from "vitest";
import { resolveEndpoint } from "./endpoints.js";
import { UsageError } from "./usage-error.js";

describe("resolveEndpoint()", () => {
  it("prefers the flag, then the env, then npm start's port", () => {
    const env = { LUCID_SERVER_MANAGER_URL: "http://sm:9" };
    expect(resolveEndpoint("serverManager", "http://flag:1", env)).toBe("http://flag:1");
    expect(resolveEndpoint("serverManager", undefined, env)).toBe("http://sm:9");
    expect(resolveEndpoint("serverManager", undefined, {})).toBe("http://127.0.0.1:8081");
    expect(resolveEndpoint("sessionController", undefined, {})).toBe("http://127.0.0.1:8082");
    expect(resolveEndpoint("resourceMonitor", undefined, {})).toBe("http://127.0.0.1:8090");
  });

  it("adds http:// to host:port and drops a trailing slash", () => {
    expect(resolveEndpoint("serverManager", "10.0.0.1:8081/", {})).toBe("http://10.0.0.1:8081");
  });

  it("names the flag or variable of a bad URL", () => {
    expect(() => resolveEndpoint("serverManager", "ftp://x", {})).toThrow(UsageError);
    expect(() => resolveEndpoint("serverManager", "ftp://x", {})).toThrow(/^--server-manager: /);
    expect(() =>
      resolveEndpoint("resourceMonitor", undefined, { LUCID_RESOURCE_MONITOR_URL: "http://" }),
    ).toThrow(/^LUCID_RESOURCE_MONITOR_URL: /);
  });
});
