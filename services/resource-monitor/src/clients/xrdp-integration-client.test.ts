import { create } from "@bufbuild/protobuf";
import { InstanceSchema, InstanceState } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { instanceFromProto, instanceStateFromProto } from "./xrdp-integration-client.js";

describe("instanceFromProto()", () => {
  it("maps every InstanceState by name, and UNSPECIFIED to undefined", () => {
    const states = Object.values(InstanceState).filter(
      (v): v is InstanceState => typeof v === "number",
    );
    for (const s of states) {
      const i = instanceFromProto(create(InstanceSchema, { state: s }));
      expect(i.state).toBe(s === InstanceState.UNSPECIFIED ? undefined : InstanceState[s]);
    }
    expect(Object.keys(instanceStateFromProto)).toHaveLength(states.length - 1);
  });

  it("keeps only the fields the monitor reads", () => {
    const i = instanceFromProto(
      create(InstanceSchema, {
        id: "i1",
        serverId: "s1",
        state: InstanceState.READY,
        pid: 10,
        sesmanPid: 11,
      }),
    );
    expect(i).toEqual({ id: "i1", serverId: "s1", state: "READY", pid: 10, sesmanPid: 11 });
  });
});
