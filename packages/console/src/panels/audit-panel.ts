/**
 * The audit log (session-controller ListAuditEvents): the newest 50 events, filtered by subject
 * and action, polled every 10 s; a session's events link to its page.
 */
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { type AuditEvent, ResourceType, type SessionControllerService } from "@lucid-rdp/gen";
import { cell } from "../cells.js";
import { byId, h, notice } from "../dom.js";
import { dateOf, errorText, when } from "../format.js";
import { sessionHref } from "../route.js";

/** Fills the audit table now, every 10 s and on each filter. */
export function auditPanel(sc: Client<typeof SessionControllerService>): void {
  const tbody = byId("audit").querySelector("tbody") as HTMLTableSectionElement;
  const subject = byId<HTMLInputElement>("audit-subject");
  const action = byId<HTMLInputElement>("audit-action");
  const resource = (e: AuditEvent) => {
    const r = e.resource;
    if (r === undefined) return "–";
    const type = ResourceType[r.type]?.toLowerCase() ?? "?";
    return r.type === ResourceType.SESSION
      ? h("a", { href: sessionHref(r.id) }, `${type} `, h("code", {}, r.id.slice(0, 8)))
      : `${type} ${r.id}`;
  };
  // The filter last submitted; a filter the service refused is not asked again until the next.
  let filter = { subject: "", action: "" };
  let refused = false;
  const poll = async () => {
    if (refused) return;
    try {
      const { auditEvents } = await sc.listAuditEvents({ pageSize: 50, ...filter });
      tbody.replaceChildren(
        ...auditEvents.map((e) =>
          h(
            "tr",
            { "data-audit-id": e.id, "data-action": e.action },
            cell("Time", when(dateOf(e.eventTime))),
            cell("Action", h("strong", {}, e.action)),
            cell("Resource", resource(e)),
            cell("By", e.actor?.subject || "–"),
            cell(
              "Details",
              Object.entries(e.details)
                .map(([k, v]) => `${k}=${v}`)
                .join(" · ") || "–",
            ),
          ),
        ),
      );
      byId("audit-empty").hidden = auditEvents.length > 0;
      notice("audit-notice", "", false);
    } catch (e) {
      // A bad filter comes back as InvalidArgument naming the field: shown as it is.
      refused = ConnectError.from(e).code === Code.InvalidArgument;
      notice("audit-notice", errorText(e));
    }
  };
  byId("audit-filters").addEventListener("submit", (e) => {
    e.preventDefault();
    filter = { subject: subject.value.trim(), action: action.value.trim() };
    refused = false;
    void poll();
  });
  void poll();
  setInterval(() => void poll(), 10_000);
}
