import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { ListNodesResponseSchema, NodeSchema, ServerManagerService } from "@lucid-rdp/gen";
import { describe, expect, it } from "vitest";
import { createServerManagerClient } from "./server-manager-adapter.js";

describe("createServerManagerClient()", () => {
  describe("listNodes()", () => {
    it("follows next_page_token to the last page", async () => {
      const tokens: string[] = [];
      const client = createClient(
        ServerManagerService,
        createRouterTransport((router) =>
          router.service(ServerManagerService, {
            listNodes: (req) => {
              tokens.push(req.pageToken);
              const second = req.pageToken === "page-2";
              return create(ListNodesResponseSchema, {
                nodes: [create(NodeSchema, { id: second ? "node-b" : "node-a" })],
                nextPageToken: second ? "" : "page-2",
              });
            },
          }),
        ),
      );
      const nodes = await createServerManagerClient(client).listNodes();
      expect(nodes.map((n) => n.id)).toEqual(["node-a", "node-b"]);
      expect(tokens).toEqual(["", "page-2"]);
    });
  });
});
