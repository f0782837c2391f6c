import { InvalidPageTokenError } from "@lucid-rdp/storage";
import { describe, expect, it } from "vitest";
import { encodeNodePageToken, pageOfNodes } from "./node-page.js";

const ids = ["node-c", "node-a", "node-b"];
const page = (size: number, token: string) => pageOfNodes(ids, (id) => id, size, token);

describe("pageOfNodes()", () => {
  it("pages by id, the token naming the last id of the page", () => {
    const first = page(2, "");
    expect(first.items).toEqual(["node-a", "node-b"]);
    expect(first.nextPageToken).toBe(encodeNodePageToken("node-b"));
    const second = page(2, first.nextPageToken);
    expect(second).toEqual({ items: ["node-c"], nextPageToken: "" });
  });

  it("takes 50 for page size 0", () => {
    const many = Array.from({ length: 60 }, (_, i) => `n${String(i).padStart(2, "0")}`);
    expect(pageOfNodes(many, (id) => id, 0, "").items).toHaveLength(50);
  });

  it.each([
    ["not base64 of a node token", "garbage"],
    ["another list's token", Buffer.from('{"c":"servers","t":1,"i":"x"}').toString("base64url")],
    ["a bad node id", Buffer.from("nodes:NODE_A").toString("base64url")],
    ["a token in padded base64", `${encodeNodePageToken("node-a")}=`],
  ])("refuses %s", (_, token) => {
    expect(() => page(2, token)).toThrow(InvalidPageTokenError);
  });
});
