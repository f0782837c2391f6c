import { describe, expect, it } from "vitest";
import { parseRoute, sessionHref } from "./route.js";

describe("parseRoute()", () => {
  const id = "0f5e2d3c-1111-4222-8333-444455556666";
  it("reads a session's page", () => {
    expect(parseRoute(sessionHref(id))).toEqual({ view: "session", id });
  });
  it("reads anything else as the dashboard", () => {
    for (const h of ["", "#", "#/sessions/", "#/sessions/not-an-id", `#/servers/${id}`])
      expect(parseRoute(h)).toEqual({ view: "dashboard" });
  });
});
