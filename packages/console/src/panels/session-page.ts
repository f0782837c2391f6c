/**
 * A session's page (#/sessions/<id>): its facts and reasons, its timeline from the audit log
 * (ListAuditEvents by resource id), its server's CPU and memory over time (resource-monitor
 * GetServerUsage) and its connections (GetSessionMetrics). Reloaded every 5 s while shown.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  type AuditEvent,
  type ResourceMonitorService,
  type Session,
  type SessionControllerService,
  SessionState,
  SessionStateReason,
} from "@lucid-rdp/gen";
import { type Chart, createChart } from "../chart.js";
import { badge, byId, h, notice } from "../dom.js";
import { bytes, dateOf, duration, errorText, percent, when } from "../format.js";
import { isLive } from "../selectors.js";
import { sessionTone } from "../tones.js";
import { sessionButtons } from "./session-actions.js";

const fact = (term: string, ...value: (Node | string)[]) => [
  h("dt", {}, term),
  h("dd", { "data-fact": term }, ...value),
];

/** The session page: `show(id)` loads and follows one session, `hide()` stops following. */
export interface SessionPage {
  show(id: string): void;
  hide(): void;
}

/** Wires the session page; `rm` is absent when the console has no resource-monitor. */
export function sessionPage(
  sc: Client<typeof SessionControllerService>,
  rm: Client<typeof ResourceMonitorService> | undefined,
): SessionPage {
  let current = "";
  let timer: ReturnType<typeof setInterval> | undefined;
  let cpu: Chart | undefined;
  let mem: Chart | undefined;

  const showSession = (s: Session) => {
    const ep = s.connectInfo?.endpoint;
    byId("sp-facts").replaceChildren(
      ...fact("User", s.user),
      ...fact(
        "State",
        badge(SessionState[s.state] ?? "?", sessionTone(s.state)),
        ...(s.stateMessage ? [h("span", { class: "reason" }, s.stateMessage)] : []),
      ),
      ...fact("Reason", s.stateReason ? (SessionStateReason[s.stateReason] ?? "?") : "–"),
      ...fact("Node", s.nodeId || "–"),
      ...fact("Server", s.serverId ? h("code", {}, s.serverId) : "–"),
      ...fact("Endpoint", ep ? h("code", {}, `${ep.host}:${ep.port}`) : "–"),
      ...fact("Created", when(dateOf(s.createTime))),
      ...fact("Ready", when(dateOf(s.readyTime))),
      ...fact("Ended", when(dateOf(s.endTime))),
    );
    byId("sp-actions").replaceChildren(sessionButtons(sc, s, showSession, "sp-notice"));
  };

  const showTimeline = (events: AuditEvent[]) => {
    const ordered = [...events].sort(
      (a, b) => (dateOf(a.eventTime)?.getTime() ?? 0) - (dateOf(b.eventTime)?.getTime() ?? 0),
    );
    byId("sp-timeline").replaceChildren(
      ...ordered.map((e) => {
        const details = Object.entries(e.details)
          .map(([k, v]) => `${k}=${v}`)
          .join(" · ");
        return h(
          "li",
          { "data-action": e.action },
          h("time", { datetime: dateOf(e.eventTime)?.toISOString() }, when(dateOf(e.eventTime))),
          h("strong", {}, e.action),
          h("span", { class: "meta" }, `by ${e.actor?.subject || "unknown"}`),
          ...(details ? [h("span", { class: "reason" }, details)] : []),
        );
      }),
    );
    byId("sp-timeline-empty").hidden = ordered.length > 0;
  };

  const load = async (id: string) => {
    let live = false;
    try {
      const [{ session }, audit, metrics] = await Promise.all([
        sc.getSession({ sessionId: id }),
        sc.listAuditEvents({ resourceId: id, pageSize: 200 }),
        sc.getSessionMetrics({ sessionId: id }),
      ]);
      if (id !== current) return;
      if (session) showSession(session);
      live = session !== undefined && session.serverId !== "" && isLive(session);
      showTimeline(audit.auditEvents);
      const m = metrics.metrics;
      byId("sp-connections").replaceChildren(
        ...fact("Connected now", String(m?.connectionCount ?? 0)),
        ...fact("Logins", String(m?.connectCount ?? 0)),
        ...fact("Reconnects", String(m?.reconnectCount ?? 0)),
        ...fact("Time connected", duration(Number(m?.connectedDuration?.seconds ?? 0n))),
        ...fact("Last activity", when(dateOf(m?.lastActivityTime))),
        ...fact("Last connect", when(dateOf(session?.lastConnectTime))),
        ...fact("Last disconnect", when(dateOf(session?.lastDisconnectTime))),
      );
      notice("sp-notice", "");
    } catch (e) {
      if (id === current) notice("sp-notice", errorText(e));
      return;
    }
    // Only a live session's server runs: resource-monitor has no usage of the others.
    if (rm === undefined || !live) return;
    try {
      const { serverUsage } = await rm.getServerUsage({
        target: { case: "sessionId", value: id },
        window: { seconds: 600n },
      });
      if (id !== current || !cpu || !mem) return;
      cpu.reset();
      mem.reset();
      const all = [
        ...(serverUsage?.history ?? []),
        ...(serverUsage?.usage ? [serverUsage.usage] : []),
      ];
      for (const u of all) {
        const t = u.sampleTime ? timestampDate(u.sampleTime).getTime() : Date.now();
        cpu.push(t, u.cpuPercent);
        mem.push(t, Number(u.memoryRssBytes));
      }
      const last = serverUsage?.usage;
      byId("sp-cpu-value").textContent = last ? percent(last.cpuPercent) : "–";
      byId("sp-mem-value").textContent = last ? bytes(last.memoryRssBytes) : "–";
    } catch (e) {
      // An ended session's server is gone: its usage is simply not there any more.
      if (id === current) byId("sp-cpu-value").title = errorText(e);
    }
  };

  return {
    show(id) {
      current = id;
      byId("sp-id").textContent = id;
      byId("sp-facts").replaceChildren();
      byId("sp-timeline").replaceChildren();
      byId("sp-connections").replaceChildren();
      byId("sp-cpu-value").textContent = "–";
      byId("sp-mem-value").textContent = "–";
      byId("sp-cpu-chart").replaceChildren();
      byId("sp-mem-chart").replaceChildren();
      cpu = createChart(byId("sp-cpu-chart"), {
        title: "CPU (% of a core)",
        format: (v) => `${v}%`,
      });
      mem = createChart(byId("sp-mem-chart"), { title: "Memory (RSS)", format: bytes });
      void load(id);
      clearInterval(timer);
      timer = setInterval(() => void load(id), 5_000);
    },
    hide() {
      current = "";
      clearInterval(timer);
    },
  };
}
