/**
 * The Lucid RDP console: one page, no framework. It calls session-controller (its own origin),
 * server-manager and resource-monitor with the generated clients over Connect (JSON, HTTP/1.1
 * fetch) and keeps every panel live with the Watch RPCs: each list is loaded once, then followed
 * from the list's last_event_id, and a dropped stream is reopened with backoff (re-listing, so
 * nothing is missed while it was down).
 *
 * Everything user-controlled reaches the DOM as text nodes, never as HTML.
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  type Alert,
  AlertState,
  type Node as ClusterNode,
  type HostMetrics,
  NodeHealth,
  ResourceMonitorService,
  type Server,
  ServerManagerService,
  ServerState,
  type Session,
  SessionControllerService,
  SessionState,
  Severity,
} from "@lucid-rdp/gen";
import { createWebClient } from "@lucid-rdp/gen/web";

interface PageConfig {
  serverManagerUrl?: string;
  resourceMonitorUrl?: string;
  authRequired: boolean;
}

const tokenKey = "lucid-rdp-console-token";

// --- DOM helpers ---------------------------------------------------------------------------

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

function notice(id: string, text: string, error = true): void {
  const el = byId(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

function errorText(e: unknown): string {
  const err = ConnectError.from(e);
  return `${Code[err.code]}: ${err.rawMessage}`;
}

const shortId = (id: string) => id.slice(0, 8);
const dateOf = (t: Timestamp | undefined) => (t === undefined ? undefined : timestampDate(t));

function ago(d: Date | undefined): string {
  if (d === undefined) return "–";
  const s = Math.max(0, Math.round((Date.now() - d.getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return d.toLocaleDateString();
}

function bytes(n: number | bigint): string {
  let v = Number(n);
  for (const unit of ["B", "KiB", "MiB", "GiB", "TiB"]) {
    if (v < 1024 || unit === "TiB") return `${v.toFixed(v < 10 && unit !== "B" ? 1 : 0)} ${unit}`;
    v /= 1024;
  }
  return `${v}`;
}

function badge(text: string, tone: string): HTMLElement {
  return h("span", { class: `badge ${tone}` }, text);
}

// --- live links ----------------------------------------------------------------------------

/**
 * Runs `follow` forever: it lists and then streams until the stream ends or fails; then it is
 * started again after a backoff of 1 s doubling to 15 s (reset once a stream delivered). The
 * header shows each link's state.
 */
function live(name: string, follow: (signal: AbortSignal, up: () => void) => Promise<void>): void {
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

/** Every page of a List RPC, and the event id to resume a watch from. */
async function listAll<T>(
  page: (pageToken: string) => Promise<{ items: T[]; next: string; lastEventId?: string }>,
): Promise<{ items: T[]; lastEventId: string }> {
  const items: T[] = [];
  let token = "";
  let lastEventId: string | undefined;
  do {
    const r = await page(token);
    items.push(...r.items);
    lastEventId ??= r.lastEventId;
    token = r.next;
  } while (token !== "");
  return { items, lastEventId: lastEventId ?? "" };
}

// --- sessions ------------------------------------------------------------------------------

const sessionTone: Record<number, string> = {
  [SessionState.PENDING]: "busy",
  [SessionState.PROVISIONING]: "busy",
  [SessionState.READY]: "ok",
  [SessionState.ACTIVE]: "ok",
  [SessionState.DISCONNECTED]: "idle",
  [SessionState.TERMINATING]: "warn",
  [SessionState.TERMINATED]: "gone",
  [SessionState.FAILED]: "bad",
};
const ended = (s: Session) =>
  s.state === SessionState.TERMINATED || s.state === SessionState.FAILED;

function sessionsPanel(sc: Client<typeof SessionControllerService>) {
  const sessions = new Map<string, Session>();
  const tbody = byId("sessions").querySelector("tbody") as HTMLTableSectionElement;

  const download = (s: Session) => {
    const body = s.connectInfo?.rdpFile ?? "";
    const url = URL.createObjectURL(new Blob([body], { type: "application/x-rdp" }));
    const a = h("a", { href: url, download: `session-${s.id}.rdp` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  const terminate = async (s: Session, button: HTMLButtonElement) => {
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
  };

  const render = () => {
    // Live sessions first (newest first), then the 10 most recently ended.
    const all = [...sessions.values()].sort(
      (a, b) => (dateOf(b.createTime)?.getTime() ?? 0) - (dateOf(a.createTime)?.getTime() ?? 0),
    );
    const shown = [...all.filter((s) => !ended(s)), ...all.filter(ended).slice(0, 10)];
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
          b.addEventListener("click", () => download(s));
          actions.append(b);
        }
        if (!ended(s) && s.state !== SessionState.TERMINATING) {
          const b = h(
            "button",
            { type: "button", class: "danger", "data-action": "terminate" },
            "Terminate",
          );
          b.addEventListener("click", () => void terminate(s, b));
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
            badge(SessionState[s.state] ?? "?", sessionTone[s.state] ?? ""),
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
    const known = sessions.get(s.id);
    // Watches and RPC answers can cross: keep whichever saw the later update.
    if (
      known &&
      (dateOf(known.updateTime)?.getTime() ?? 0) > (dateOf(s.updateTime)?.getTime() ?? 0)
    )
      return;
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

  const form = byId<HTMLFormElement>("create-form");
  const userInput = byId<HTMLInputElement>("create-user");
  userInput.value = localStorage.getItem("lucid-rdp-console-user") ?? "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const button = byId<HTMLButtonElement>("create-button");
    button.disabled = true;
    localStorage.setItem("lucid-rdp-console-user", userInput.value);
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
  setInterval(render, 5_000);
}

// --- servers and nodes ---------------------------------------------------------------------

const serverTone: Record<number, string> = {
  [ServerState.PROVISIONING]: "busy",
  [ServerState.READY]: "ok",
  [ServerState.DRAINING]: "warn",
  [ServerState.STOPPING]: "warn",
  [ServerState.STOPPED]: "gone",
  [ServerState.FAILED]: "bad",
};

function serversPanel(sm: Client<typeof ServerManagerService>) {
  const servers = new Map<string, Server>();
  const tbody = byId("servers").querySelector("tbody") as HTMLTableSectionElement;
  const render = () => {
    const live = [...servers.values()]
      .filter((s) => s.state !== ServerState.STOPPED)
      .sort(
        (a, b) => (dateOf(b.createTime)?.getTime() ?? 0) - (dateOf(a.createTime)?.getTime() ?? 0),
      );
    tbody.replaceChildren(
      ...live.map((s) =>
        h(
          "tr",
          { "data-server-id": s.id, "data-state": ServerState[s.state] },
          h("td", { title: s.id }, h("code", {}, shortId(s.id))),
          h("td", {}, s.nodeId),
          h("td", {}, s.owner),
          h(
            "td",
            { title: s.stateMessage || undefined },
            badge(ServerState[s.state] ?? "?", serverTone[s.state] ?? ""),
          ),
          h("td", {}, s.endpoint ? h("code", {}, `${s.endpoint.host}:${s.endpoint.port}`) : "–"),
          h("td", {}, s.usage ? `${s.usage.cpuPercent.toFixed(1)}%` : "–"),
          h("td", {}, s.usage ? bytes(s.usage.memoryRssBytes) : "–"),
        ),
      ),
    );
    byId("servers-empty").hidden = live.length > 0;
  };
  live("servers", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await sm.listServers({ pageSize: 100, pageToken }, { signal });
      return { items: r.servers, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    servers.clear();
    for (const s of items) servers.set(s.id, s);
    render();
    up();
    for await (const ev of sm.watchServers({ afterEventId: lastEventId }, { signal })) {
      if (ev.server) servers.set(ev.server.id, ev.server);
      render();
    }
  });

  const nodesBody = byId("nodes").querySelector("tbody") as HTMLTableSectionElement;
  const pollNodes = async () => {
    try {
      const { items } = await listAll(async (pageToken) => {
        const r = await sm.listNodes({ pageSize: 100, pageToken });
        return { items: r.nodes, next: r.nextPageToken };
      });
      nodesBody.replaceChildren(...items.map(nodeRow));
      notice("nodes-notice", items.length === 0 ? "No node has registered yet." : "", false);
    } catch (e) {
      notice("nodes-notice", errorText(e));
    }
  };
  void pollNodes();
  setInterval(() => void pollNodes(), 5_000);
}

function nodeRow(n: ClusterNode): HTMLElement {
  const healthy = n.health === NodeHealth.HEALTHY;
  return h(
    "tr",
    { "data-node-id": n.id },
    h("td", {}, n.id),
    h(
      "td",
      { title: n.healthMessage || undefined },
      badge(
        n.draining ? "DRAINING" : (NodeHealth[n.health] ?? "?"),
        n.draining ? "warn" : healthy ? "ok" : "bad",
      ),
    ),
    h("td", {}, `${n.serverCount} / ${n.maxServers}`),
    h("td", {}, n.portRange ? `${n.portRange.start}–${n.portRange.end}` : "–"),
    h("td", {}, n.xrdpVersion || "–"),
  );
}

// --- host metrics --------------------------------------------------------------------------

const svgNs = "http://www.w3.org/2000/svg";

/** A filled line chart of the last `max` values (0-100), drawn as SVG with a 25% grid. */
function chart(container: HTMLElement, max = 90) {
  const values: number[] = [];
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 300 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  for (const y of [25, 50, 75]) {
    const l = document.createElementNS(svgNs, "line");
    for (const [k, v] of [
      ["x1", "0"],
      ["x2", "300"],
      ["y1", `${y}`],
      ["y2", `${y}`],
    ] as const)
      l.setAttribute(k, v);
    l.setAttribute("class", "grid-line");
    l.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(l);
  }
  const area = document.createElementNS(svgNs, "path");
  area.setAttribute("class", "area");
  const line = document.createElementNS(svgNs, "path");
  line.setAttribute("class", "line");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(area, line);
  container.append(svg);
  const push = (v: number) => {
    values.push(Math.min(100, Math.max(0, v)));
    if (values.length > max) values.shift();
    const step = 300 / (max - 1);
    const x0 = 300 - (values.length - 1) * step;
    const pts = values.map((y, i) => `${(x0 + i * step).toFixed(1)},${(100 - y).toFixed(1)}`);
    line.setAttribute("d", `M${pts.join("L")}`);
    area.setAttribute("d", `M${x0.toFixed(1)},100L${pts.join("L")}L300,100Z`);
    svg.setAttribute("aria-label", `${v.toFixed(1)}%`);
  };
  return {
    push,
    /** Starts over, e.g. with the history of a reconnect. */
    reset: () => {
      values.length = 0;
    },
  };
}

function metricsPanel(rm: Client<typeof ResourceMonitorService>) {
  const cpu = chart(byId("cpu-chart"));
  const mem = chart(byId("mem-chart"));
  const show = (m: HostMetrics) => {
    const c = m.cpu?.usagePercent ?? 0;
    cpu.push(c);
    byId("cpu-value").textContent = `${c.toFixed(1)}%`;
    const total = Number(m.memory?.totalBytes ?? 0n);
    const used = Number(m.memory?.usedBytes ?? 0n);
    const pct = total > 0 ? (100 * used) / total : 0;
    mem.push(pct);
    byId("mem-value").textContent = `${pct.toFixed(1)}%`;
    byId("mem-detail").textContent = `${bytes(used)} of ${bytes(total)} used`;
    const load = m.load ? ` · load ${m.load.load1.toFixed(2)}` : "";
    byId("host-name").textContent = `${m.hostname}${load} · ${m.processCount} processes`;
  };
  live("metrics", async (signal, up) => {
    // The last two minutes first, so the charts do not start empty.
    const { history, latest } = await rm.getHostMetrics(
      { window: { seconds: 120n }, maxSamples: 90 },
      { signal },
    );
    cpu.reset();
    mem.reset();
    const at = (m: HostMetrics) => dateOf(m.sampleTime)?.getTime() ?? 0;
    for (const m of [...history].sort((a, b) => at(a) - at(b))) show(m);
    if (history.length === 0 && latest) show(latest);
    up();
    for await (const r of rm.watchMetrics({ interval: { seconds: 1n } }, { signal })) {
      up();
      if (r.host) show(r.host);
    }
  });
}

const alertTone: Record<number, string> = {
  [AlertState.PENDING]: "warn",
  [AlertState.FIRING]: "bad",
  [AlertState.RESOLVED]: "ok",
  [AlertState.INACTIVE]: "gone",
};

function alertsPanel(rm: Client<typeof ResourceMonitorService>) {
  const alerts = new Map<string, Alert>();
  const list = byId("alerts");
  const rank = (a: Alert) =>
    a.state === AlertState.FIRING ? 0 : a.state === AlertState.PENDING ? 1 : 2;
  const render = () => {
    const shown = [...alerts.values()]
      .sort(
        (a, b) =>
          rank(a) - rank(b) ||
          (dateOf(b.updateTime)?.getTime() ?? 0) - (dateOf(a.updateTime)?.getTime() ?? 0),
      )
      .slice(0, 20);
    list.replaceChildren(
      ...shown.map((a) => {
        const silenced = a.silencedUntil && (dateOf(a.silencedUntil)?.getTime() ?? 0) > Date.now();
        return h(
          "li",
          { "data-alert-id": a.id, "data-state": AlertState[a.state] },
          h(
            "div",
            {},
            badge(AlertState[a.state] ?? "?", alertTone[a.state] ?? ""),
            " ",
            h("span", { class: "summary" }, a.summary || a.ruleId),
          ),
          h(
            "div",
            { class: "meta" },
            `${Severity[a.severity] ?? ""} · value ${a.value.toFixed(2)} vs ${a.threshold} · ${ago(dateOf(a.updateTime))}${silenced ? " · silenced" : ""}`,
          ),
        );
      }),
    );
    byId("alerts-empty").hidden = shown.length > 0;
  };
  live("alerts", async (signal, up) => {
    const { items, lastEventId } = await listAll(async (pageToken) => {
      const r = await rm.listAlerts({ pageSize: 100, pageToken }, { signal });
      return { items: r.alerts, next: r.nextPageToken, lastEventId: r.lastEventId };
    });
    alerts.clear();
    for (const a of items) alerts.set(a.id, a);
    render();
    up();
    for await (const ev of rm.watchAlerts({ afterEventId: lastEventId }, { signal })) {
      if (ev.alert) alerts.set(ev.alert.id, ev.alert);
      render();
    }
  });
  setInterval(render, 5_000);
}

// --- start ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cfg = (await (await fetch("/console/config.json")).json()) as PageConfig;
  const token = () => localStorage.getItem(tokenKey) ?? "";
  const client = <S extends DescService>(service: S, baseUrl: string) =>
    createWebClient(service, { baseUrl, token: cfg.authRequired ? token : undefined });

  if (cfg.authRequired) {
    const form = byId<HTMLFormElement>("token-form");
    const input = byId<HTMLInputElement>("token");
    form.hidden = false;
    input.value = token();
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      localStorage.setItem(tokenKey, input.value.trim());
      location.reload();
    });
  }

  sessionsPanel(client(SessionControllerService, location.origin));
  if (cfg.serverManagerUrl) serversPanel(client(ServerManagerService, cfg.serverManagerUrl));
  else
    notice(
      "nodes-notice",
      "session-controller has no SERVER_MANAGER_URL: no servers or nodes to show.",
    );
  if (cfg.resourceMonitorUrl) {
    const rm = client(ResourceMonitorService, cfg.resourceMonitorUrl);
    metricsPanel(rm);
    alertsPanel(rm);
  } else {
    notice(
      "alerts-notice",
      "Set CONSOLE_RESOURCE_MONITOR_URL on session-controller to see host charts and alerts.",
    );
  }
}

main().catch((e: unknown) => {
  document.body.prepend(
    h("p", { class: "notice error" }, `The console failed to start: ${String(e)}`),
  );
});
