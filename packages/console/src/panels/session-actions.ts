/** What a session's buttons do: download its .rdp file, terminate it (after a confirmation). */
import type { Client } from "@connectrpc/connect";
import { type Session, type SessionControllerService, SessionState } from "@lucid-rdp/gen";
import { confirmAction } from "../confirm-dialog.js";
import { h, notice } from "../dom.js";
import { errorText, shortId } from "../format.js";
import { isEnded, isLive } from "../selectors.js";

/** Saves the session's .rdp file (connect_info.rdp_file) as session-<id>.rdp. */
export function downloadRdp(s: Session): void {
  const body = s.connectInfo?.rdpFile ?? "";
  const url = URL.createObjectURL(new Blob([body], { type: "application/x-rdp" }));
  const a = h("a", { href: url, download: `session-${s.id}.rdp` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Whether a session is live, so that its .rdp file can still be used: READY, ACTIVE, DISCONNECTED. */
export const offersRdp = (s: Session) => Boolean(s.connectInfo?.rdpFile) && isLive(s);

/**
 * Asks for a confirmation, then terminates the session with `button` disabled; the answer goes
 * to `upsert`. A failure is shown in the notice `noticeId` and enables the button again.
 */
export async function terminateSession(
  sc: Client<typeof SessionControllerService>,
  s: Session,
  button: HTMLButtonElement,
  upsert: (s: Session) => void,
  noticeId = "sessions-notice",
): Promise<void> {
  const ok = await confirmAction({
    title: "Terminate session?",
    text: `Session ${shortId(s.id)} of ${s.user} ends now: its desktop is stopped and anything unsaved is lost.`,
    confirm: "Terminate",
  });
  if (!ok) return;
  button.disabled = true;
  try {
    const r = await sc.terminateSession({
      sessionId: s.id,
      reason: "terminated from the console",
    });
    if (r.session) upsert(r.session);
    notice(noticeId, "");
  } catch (e) {
    notice(noticeId, `Terminate ${shortId(s.id)}: ${errorText(e)}`);
    button.disabled = false;
  }
}

/** The buttons of a session: .rdp while it is live, Terminate until it ends. */
export function sessionButtons(
  sc: Client<typeof SessionControllerService>,
  s: Session,
  upsert: (s: Session) => void,
  noticeId?: string,
): HTMLElement {
  const actions = h("div", { class: "actions" });
  if (offersRdp(s)) {
    const b = h("button", { type: "button", class: "ghost", "data-action": "download" }, ".rdp");
    b.addEventListener("click", () => downloadRdp(s));
    actions.append(b);
  }
  if (!isEnded(s) && s.state !== SessionState.TERMINATING) {
    const b = h(
      "button",
      { type: "button", class: "danger", "data-action": "terminate" },
      "Terminate",
    );
    b.addEventListener("click", () => void terminateSession(sc, s, b, upsert, noticeId));
    actions.append(b);
  }
  return actions;
}
