/**
 * The in-page confirmation of destructive actions (terminate, drain, delete): one <dialog> of
 * index.html, never window.confirm (which blocks the page, cannot be styled, and browsers let a
 * user suppress).
 */
import { byId } from "./dom.js";

/** What to ask: the dialog's title, its text and the label of the confirming button. */
export interface Confirmation {
  readonly title: string;
  readonly text: string;
  readonly confirm: string;
}

/** Opens the confirmation dialog; resolves true when the user confirms, false on cancel or Esc. */
export function confirmAction(c: Confirmation): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>("confirm-dialog");
  byId("confirm-title").textContent = c.title;
  byId("confirm-text").textContent = c.text;
  byId("confirm-ok").textContent = c.confirm;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
  });
}
