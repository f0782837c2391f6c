/** The header's bearer-token form, shown when the services require auth. */
import { storedToken, tokenKey } from "./clients.js";
import { byId } from "./dom.js";

/** Shows the token form filled with the stored token; submitting stores the new one and reloads. */
export function tokenForm(): void {
  const form = byId<HTMLFormElement>("token-form");
  const input = byId<HTMLInputElement>("token");
  form.hidden = false;
  input.value = storedToken();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    localStorage.setItem(tokenKey, input.value.trim());
    location.reload();
  });
}
