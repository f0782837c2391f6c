/** What a session row's buttons do: download its .rdp file, terminate it. */
import type { Client } from "@connectrpc/connect";
import type { Session, SessionControllerService } from "@lucid-rdp/gen";
import { h, notice } from "../dom.js";
import { errorText, shortId } from "../format.js";

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

/**
 * Terminates the session with `button` disabled; the answer goes to `upsert`. A failure is shown
 * in the sessions notice and enables the button again.
 */
export async function terminateSession(
  sc: Client<typeof SessionControllerService>,
  s: Session,
  button: HTMLButtonElement,
  upsert: (s: Session) => void,
): Promise<void> {
  button.disabled = true;
  try {
    const r = await sc.terminateSession({
      sessionId: s.id,
      reason: "terminated from the console",
    });
    if (r.session) upsert(r.session);
    notice("sessions-notice", "");
  } catch (e) {
    notice("sessions-notice", `Terminate ${shortId(s.id)}: ${errorText(e)}`);
    button.disabled = false;
  }
}
