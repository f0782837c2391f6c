import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { renderFields, renderTable } from "./table.js";

describe("renderTable()", () => {
  it("aligns columns two spaces apart, without trailing spaces", () => {
    expect(
      renderTable(
        ["ID", "STATE", "NODE"],
        [
          ["a", "READY", "node-1"],
          ["bbbb", "FAILED", ""],
        ],
      ),
    ).toBe(["ID    STATE   NODE", "a     READY   node-1", "bbbb  FAILED"].join("\n"));
  });

  it("ignores colour codes when measuring", () => {
    const colours = pc.createColors(true);
    const out = renderTable(["S", "N"], [[colours.red("FAILED"), "x"]]).split("\n");
    expect(out[0]).toBe("S       N");
    expect(out[1]).toBe(`${colours.red("FAILED")}  x`);
  });
});

describe("renderFields()", () => {
  it("pads keys and leaves out empty values", () => {
    expect(
      renderFields([
        ["id", "1"],
        ["empty", ""],
        ["endpoint", "h:1"],
      ]),
    ).toBe("id:       1\nendpoint: h:1");
  });
});
