import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CryptLevel,
  InstanceSchema,
  InstanceState,
  SecurityLayer,
  type StartInstanceRequest,
  XrdpSettingsSchema,
} from "@lucid-rdp/gen";
import { ErrorInfoSchema } from "@lucid-rdp/runtime";
import { describe, expect, it } from "vitest";
import { StartInstanceFailedError } from "../domain/start-instance-failed-error.js";
import { settingsFromProto } from "../service/mappers.js";
import { type XrdpClient, xrdpNodeOf } from "./xrdp-node-clients.js";

const input = { requestId: "r", serverId: "s", owner: "alice", port: 3390, waitMs: 1_000 };

/** A node whose StartInstance records its request, then throws `fail` or answers READY. */
function fakeNode(fail?: ConnectError) {
  const asked: StartInstanceRequest[] = [];
  const client = {
    async startInstance(req: StartInstanceRequest) {
      asked.push(req);
      if (fail) throw fail;
      return {
        instance: create(InstanceSchema, {
          id: "i-1",
          serverId: req.serverId,
          state: InstanceState.READY,
          createTime: { seconds: 1_700_000_000n, nanos: 999_999_999 },
        }),
      };
    },
    async stopInstance() {
      throw new ConnectError("no such instance", Code.NotFound);
    },
  };
  return { node: xrdpNodeOf(client as unknown as XrdpClient), asked };
}

const failureOf = (err: ConnectError) =>
  fakeNode(err)
    .node.startInstance({ ...input, timeoutMs: 5_000 })
    .then(
      () => undefined,
      (e: unknown) => (e as StartInstanceFailedError).failure,
    );

describe("xrdpNodeOf()", () => {
  describe("startInstance()", () => {
    it("sends the settings the handler took in as the same message, and maps the instance", async () => {
      const settings = create(XrdpSettingsSchema, {
        securityLayer: SecurityLayer.TLS,
        cryptLevel: CryptLevel.HIGH,
        maxBpp: 24,
        clipboard: false,
        idleTimeLimit: { seconds: 600n },
      });
      const { node, asked } = fakeNode();
      const instance = await node.startInstance({
        ...input,
        settings: settingsFromProto(settings),
        timeoutMs: 5_000,
      });
      expect(asked[0]?.settings).toEqual(settings);
      expect(asked[0]?.waitTimeout?.seconds).toBe(1n);
      expect(instance).toEqual({
        id: "i-1",
        serverId: "s",
        state: "READY",
        stateMessage: "",
        connectionCount: 0,
        createTime: new Date(1_700_000_000_999),
      });
    });

    it("classifies the node's errors", async () => {
      const portInUse = new ConnectError("busy", Code.FailedPrecondition, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "PORT_IN_USE" } },
      ]);
      const full = new ConnectError("full", Code.ResourceExhausted, undefined, [
        { desc: ErrorInfoSchema, value: { reason: "NODE_AT_CAPACITY" } },
      ]);
      expect(await failureOf(new ConnectError("reset", Code.Unavailable))).toBe("uncertain");
      expect(await failureOf(new ConnectError("calm", Code.ResourceExhausted))).toBe("uncertain");
      expect(await failureOf(portInUse)).toBe("port_in_use");
      expect(await failureOf(full)).toBe("refused");
      expect(await failureOf(new ConnectError("bad", Code.InvalidArgument))).toBe("refused");
      expect(await failureOf(new ConnectError("no", Code.PermissionDenied))).toBe("failed");
    });

    it("keeps the node's error as the cause, to be returned as is", async () => {
      const err = new ConnectError("settings", Code.InvalidArgument);
      const thrown = await fakeNode(err)
        .node.startInstance({ ...input, timeoutMs: 5_000 })
        .catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(StartInstanceFailedError);
      expect((thrown as StartInstanceFailedError).cause).toBe(err);
      expect((thrown as StartInstanceFailedError).nodeMessage).toBe("settings");
    });
  });

  describe("stopInstance()", () => {
    it("counts an instance the node does not know as stopped", async () => {
      await expect(fakeNode().node.stopInstance("gone", true)).resolves.toBeUndefined();
    });
  });
});
