/** The sessions table: live from ListSessions + WatchSessions, with create and terminate. */
import type { Client } from "@connectrpc/connect";
import { type Session, type SessionControllerService, SessionState } from "@lucid-rdp/gen";
import { badge, byId, h } from "../dom.js";
import { ago, dateOf, shortId } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { isEnded, supersedes, visibleSessions } from "../selectors.js";
import { sessionTone } from "../tones.js";
import { createSessionForm } from "./create-session-form.js";
import { downloadRdp, terminateSession } from "./session-actions.js";

/** Fills the sessions table and keeps it live; re-renders every 5 s so the ages move on. */
export function sessionsPanel(sc: Client<typeof SessionControllerService>): void {
  const sessions = new Map<string, Session>();
  const tbody = byId("sessions").querySelector("tbody") as HTMLTableSectionElement;

  const render = () => {
    const shown = visibleSessions(sessions.values());
    tbody.replaceChildren(
      ...shown.map((s) => {
        const ep = s.connectInfo?.endpoint;
        const actions = h("div", { class: "actions" });
        if (s.connectInfo?.rdpFile) {
          const b = h(
            "button",
            { type: "button", class: "ghost", "data-action": "download" },
            ".rdp",
          );
          b.addEventListener("click", () => downloadRdp(s));
          actions.append(b);
        }
        if (!isEnded(s) && s.state !== SessionState.TERMINATING) {
          const b = h(
            "button",
            { type: "button", class: "danger", "data-action": "terminate" },
            "Terminate",
          );
          b.addEventListener("click", () => void terminateSession(sc, s, b, upsert));
          actions.append(b);
        }
        return h(
          "tr",
          { "data-session-id": s.id, "data-state": SessionState[s.state] },
          h("td", { title: s.id }, h("code", {}, shortId(s.id))),
          h("td", {}, s.user),
          h(
            "td",
            { title: s.stateMessage || undefined },
            badge(SessionState[s.state] ?? "?", sessionTone(s.state)),
          ),
          h("td", {}, ep ? h("code", {}, `${ep.host}:${ep.port}`) : "–"),
          h("td", {}, String(s.connectionCount)),
          h("td", { title: dateOf(s.createTime)?.toISOString() }, ago(dateOf(s.createTime))),
          h("td", {}, actions),
        );
      }),
    );
    byId("sessions-empty").hidden = shown.length > 0;
  };

  const upsert = (s: Session) => {
    if (!supersedes(sessions.get(s.id), s)) return;
    sessions.set(s.id, s);
    render();
  };

  live("sessions", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await sc.listSessions({ pageSize: 100, pageToken }, { signal });
      return { items: r.sessions, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    sessions.clear();
    for (const s of items) sessions.set(s.id, s);
    render();
    up();
    for await (const ev of sc.watchSessions({ afterEventId: lastEventId }, { signal })) {
      if (ev.session) upsert(ev.session);
    }
  });

  createSessionForm(sc, upsert);
  setInterval(render, 5_000);
}
