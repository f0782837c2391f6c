/** Table cells of the console: each names its column, which the narrow (card) layout shows. */
import { badge, h } from "./dom.js";

/** A table cell with its column's name, shown as the card's label on a narrow screen. */
export const cell = (label: string, ...children: (Node | string)[]) =>
  h("td", { "data-label": label }, ...children);

/** A state badge with the state's message (the reason of FAILED, UNHEALTHY...) inline below it. */
export function stateCell(text: string, tone: string, message: string): HTMLElement {
  // One wrapper, so that the narrow layout's label/value grid keeps the reason beside the label.
  return cell(
    "State",
    h("div", {}, badge(text, tone), message ? h("span", { class: "reason" }, message) : null),
  );
}
