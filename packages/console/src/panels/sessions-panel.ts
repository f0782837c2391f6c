/**
 * The sessions table: live from ListSessions + WatchSessions, with search, filters (state, user,
 * node) and paging over the sessions held, create, and each row's actions and reasons.
 */
import type { Client } from "@connectrpc/connect";
import { type Session, type SessionControllerService, SessionState } from "@lucid-rdp/gen";
import { cell, stateCell } from "../cells.js";
import { byId, h } from "../dom.js";
import { ago, dateOf, shortId } from "../format.js";
import { listAll } from "../list-all.js";
import { live } from "../live.js";
import { sessionHref } from "../route.js";
import { supersedes } from "../selectors.js";
import {
  choices,
  emptyQuery,
  filterStates,
  querySessions,
  type SessionQuery,
  sessionPageSize,
} from "../session-query.js";
import { sessionTone } from "../tones.js";
import { createSessionForm } from "./create-session-form.js";
import { sessionButtons } from "./session-actions.js";

/** Refills a <select> with "any" first and `values`, keeping the selection when it remains. */
function fillSelect(select: HTMLSelectElement, any: string, values: [string, string][]): void {
  const key = values.map(([v]) => v).join("\n");
  if (select.dataset.choices === key) return;
  select.dataset.choices = key;
  const keep = select.value;
  select.replaceChildren(
    h("option", { value: "" }, any),
    ...values.map(([v, text]) => h("option", { value: v }, text)),
  );
  select.value = values.some(([v]) => v === keep) ? keep : "";
}

/** Fills the sessions table and keeps it live; re-renders every 5 s so the ages move on. */
export function sessionsPanel(sc: Client<typeof SessionControllerService>): void {
  const sessions = new Map<string, Session>();
  const tbody = byId("sessions").querySelector("tbody") as HTMLTableSectionElement;
  const search = byId<HTMLInputElement>("session-search");
  const stateSel = byId<HTMLSelectElement>("filter-state");
  const userSel = byId<HTMLSelectElement>("filter-user");
  const nodeSel = byId<HTMLSelectElement>("filter-node");
  fillSelect(
    stateSel,
    "Any state",
    filterStates.map((s) => [String(s), SessionState[s] ?? "?"]),
  );
  let page = 0;
  const query = (): SessionQuery => ({
    ...emptyQuery,
    search: search.value,
    states: stateSel.value === "" ? [] : [Number(stateSel.value) as SessionState],
    user: userSel.value,
    node: nodeSel.value,
    page,
  });

  const userButton = (user: string) => {
    const b = h(
      "button",
      { type: "button", class: "link", title: `Only ${user}'s sessions` },
      user,
    );
    b.addEventListener("click", () => {
      userSel.value = user;
      refilter();
    });
    return b;
  };

  const row = (s: Session) => {
    const ep = s.connectInfo?.endpoint;
    return h(
      "tr",
      { "data-session-id": s.id, "data-state": SessionState[s.state] },
      cell(
        "Session",
        h("a", { href: sessionHref(s.id), title: s.id }, h("code", {}, shortId(s.id))),
      ),
      // The user's sessions, at a click: the per-user view.
      cell("User", userButton(s.user)),
      stateCell(SessionState[s.state] ?? "?", sessionTone(s.state), s.stateMessage),
      cell("Node", s.nodeId || "–"),
      cell("Endpoint", ep ? h("code", {}, `${ep.host}:${ep.port}`) : "–"),
      cell("Conns", String(s.connectionCount)),
      h(
        "td",
        { "data-label": "Created", title: dateOf(s.createTime)?.toISOString() },
        ago(dateOf(s.createTime)),
      ),
      cell("", sessionButtons(sc, s, upsert)),
    );
  };

  const render = () => {
    fillSelect(
      userSel,
      "Any user",
      choices(sessions.values(), "user").map((u) => [u, u]),
    );
    fillSelect(
      nodeSel,
      "Any node",
      choices(sessions.values(), "nodeId").map((n) => [n, n]),
    );
    const shown = querySessions(sessions.values(), query());
    page = shown.page;
    tbody.replaceChildren(...shown.items.map(row));
    const empty = byId("sessions-empty");
    empty.hidden = shown.total > 0;
    empty.textContent = sessions.size === 0 ? "No sessions yet." : "No session matches.";
    byId("page-info").textContent =
      shown.total === 0
        ? ""
        : `${shown.page * sessionPageSize + 1}–${shown.page * sessionPageSize + shown.items.length} of ${shown.total} · page ${shown.page + 1} of ${shown.pages}`;
    byId<HTMLButtonElement>("page-prev").disabled = shown.page === 0;
    byId<HTMLButtonElement>("page-next").disabled = shown.page >= shown.pages - 1;
  };
  const upsert = (s: Session) => {
    if (!supersedes(sessions.get(s.id), s)) return;
    sessions.set(s.id, s);
    render();
  };

  const refilter = () => {
    page = 0;
    render();
  };
  search.addEventListener("input", refilter);
  for (const sel of [stateSel, userSel, nodeSel]) sel.addEventListener("change", refilter);
  byId("session-filters").addEventListener("submit", (e) => e.preventDefault());
  byId("page-prev").addEventListener("click", () => {
    page -= 1;
    render();
  });
  byId("page-next").addEventListener("click", () => {
    page += 1;
    render();
  });

  live("sessions", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await sc.listSessions({ pageSize: 500, pageToken }, { signal });
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
