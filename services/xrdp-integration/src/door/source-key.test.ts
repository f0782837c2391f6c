import { describe, expect, it } from "vitest";
import { sourceKey } from "./source-key.js";

describe("sourceKey()", () => {
  it("keeps an IPv4 address", () => {
    expect(sourceKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it("reads IPv4-mapped IPv6 as IPv4, dotted or in hex", () => {
    expect(sourceKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(sourceKey("::ffff:cb00:7107")).toBe("203.0.113.7");
  });

  it("groups IPv6 by /64, however the address is written", () => {
    expect(sourceKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(sourceKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(sourceKey("::1")).toBe("0:0:0:0::/64");
  });
});
