/** The sessions panel's "Create session" form. */
import type { Client } from "@connectrpc/connect";
import type { Session, SessionControllerService } from "@lucid-rdp/gen";
import { byId, notice } from "../dom.js";
import { errorText } from "../format.js";

const userKey = "lucid-rdp-console-user";

/**
 * Wires the form: it remembers the last user, creates a session for the user on submit and hands
 * the answer (the PENDING session, or the user's running one) to `upsert`.
 */
export function createSessionForm(
  sc: Client<typeof SessionControllerService>,
  upsert: (s: Session) => void,
): void {
  const form = byId<HTMLFormElement>("create-form");
  const userInput = byId<HTMLInputElement>("create-user");
  userInput.value = localStorage.getItem(userKey) ?? "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const button = byId<HTMLButtonElement>("create-button");
    button.disabled = true;
    localStorage.setItem(userKey, userInput.value);
    // No wait: the answer is the PENDING session; the watch shows it turn READY.
    sc.createSession({ requestId: crypto.randomUUID(), user: userInput.value })
      .then((r) => {
        if (r.session) upsert(r.session);
        notice(
          "sessions-notice",
          r.reused ? "Reconnected to the user's running session." : "",
          false,
        );
      })
      .catch((err: unknown) => notice("sessions-notice", `Create: ${errorText(err)}`))
      .finally(() => {
        button.disabled = false;
      });
  });
}
