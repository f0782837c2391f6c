import { describe, expect, it } from "vitest";
import { createCorsPolicy, isPreflight } from "./cors.js";

describe("createCorsPolicy()", () => {
  it("allows exact origins, any port of a wildcard-port origin, and nothing else", () => {
    const p = createCorsPolicy(["https://console.example.com", "http://localhost:*"]);
    expect(p.allows("https://console.example.com")).toBe(true);
    expect(p.allows("https://console.example.com:8443")).toBe(false);
    expect(p.allows("http://localhost:5173")).toBe(true);
    expect(p.allows("http://localhost")).toBe(true);
    expect(p.allows("https://localhost:5173")).toBe(false);
    expect(p.allows("http://localhost.evil.net")).toBe(false);
    expect(p.allows("null")).toBe(false);
  });

  it("allows nothing when no origin is configured", () => {
    expect(createCorsPolicy([]).allows("http://localhost:3000")).toBe(false);
  });

  it("allows every origin with *", () => {
    expect(createCorsPolicy(["*"]).allows("https://anything.example")).toBe(true);
  });

  it("answers preflights with the Connect and gRPC-web headers and exposes trailers", () => {
    const p = createCorsPolicy(["*"]);
    const pre = p.preflightHeaders("https://a.example");
    expect(pre["access-control-allow-origin"]).toBe("https://a.example");
    expect(String(pre["access-control-allow-headers"])).toContain("Connect-Protocol-Version");
    expect(String(pre["access-control-allow-headers"])).toContain("X-Grpc-Web");
    expect(
      String(p.responseHeaders("https://a.example")["access-control-expose-headers"]),
    ).toContain("Grpc-Status");
  });
});

describe("isPreflight()", () => {
  it("needs OPTIONS and Access-Control-Request-Method", () => {
    expect(isPreflight("OPTIONS", { "access-control-request-method": "POST" })).toBe(true);
    expect(isPreflight("OPTIONS", {})).toBe(false);
    expect(isPreflight("POST", { "access-control-request-method": "POST" })).toBe(false);
  });
});
