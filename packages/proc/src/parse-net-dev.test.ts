import { describe, expect, it } from "vitest";
import { parseNetDev } from "./parse-net-dev.js";

// /proc/net/dev of a VM under Linux 6.18, and a line as old kernels print it (no space after ':').
const captured = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 4852941508 13203242    0    0    0     0          0         0 4852941508 13203242    0    0    0     0       0          0
  eth0: 6006396803  209499    0    0    0     0          0         0 16111725  172877    0    0    0     0       0          0
  eth1:5000 50 1 2 0 0 0 0 3000 30 3 4 0 0 0 0
`;

describe("parseNetDev()", () => {
  it("reads each interface's counters, skipping the two header lines", () => {
    const nets = parseNetDev(captured);
    expect([...nets.keys()]).toEqual(["lo", "eth0", "eth1"]);
    expect(nets.get("eth0")).toEqual({
      rxBytes: 6006396803,
      rxPackets: 209499,
      rxErrors: 0,
      rxDrops: 0,
      txBytes: 16111725,
      txPackets: 172877,
      txErrors: 0,
      txDrops: 0,
    });
    expect(nets.get("eth1")).toEqual({
      rxBytes: 5000,
      rxPackets: 50,
      rxErrors: 1,
      rxDrops: 2,
      txBytes: 3000,
      txPackets: 30,
      txErrors: 3,
      txDrops: 4,
    });
  });
});
