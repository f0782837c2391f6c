/**
 * The console's live links: each panel's list-then-watch loop, kept running with backoff and
 * shown as a dot in the header.
 */
import { byId, h } from "./dom.js";
import { errorText } from "./format.js";

/**
 * Runs `follow` forever: it lists and then streams until the stream ends or fails; then it is
 * started again after a backoff of 1 s doubling to 15 s (reset once a stream delivered). The
 * header shows each link's state.
 */
export function live(
  name: string,
  follow: (signal: AbortSignal, up: () => void) => Promise<void>,
): void {
  const dot = h("span", { class: "dot" });
  const label = h("span", {}, name);
  byId("links").append(h("li", { "data-link": name }, dot, label));
  const set = (state: "live" | "down" | "", title: string) => {
    dot.className = `dot ${state}`;
    dot.parentElement?.setAttribute("title", title);
    dot.parentElement?.setAttribute("data-state", state || "connecting");
  };
  let backoff = 1000;
  const loop = async () => {
    for (;;) {
      const ctl = new AbortController();
      try {
        set("", "connecting");
        await follow(ctl.signal, () => {
          backoff = 1000;
          set("live", "live");
        });
        set("down", "stream ended; reconnecting");
      } catch (e) {
        set("down", errorText(e));
      } finally {
        ctl.abort();
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 15_000);
    }
  };
  void loop();
}
