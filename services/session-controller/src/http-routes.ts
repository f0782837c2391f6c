/**
 * GET /sessions/{id}.rdp: the session's .rdp file for browsers, with the same auth as the RPCs
 * (any of the viewer, operator and service roles).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Authenticator, HttpHandler } from "@lucid-rdp/runtime";
import { NotFoundError } from "@lucid-rdp/storage";
import { rdpFileOf } from "./service/mappers.js";
import type { SessionReader } from "./sessions/session-reader.js";

const path = /^\/sessions\/([0-9a-f-]{36})\.rdp$/;

/** The .rdp route, reading sessions through `sessions` (the repository, or any store of them). */
export function rdpFileRoute(
  sessions: Pick<SessionReader, "get">,
  auth: Authenticator | undefined,
): HttpHandler {
  return async (req, res) => {
    const m = path.exec((req.url ?? "").split("?")[0] ?? "");
    if (m === null || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (auth) {
      try {
        const p = await auth.authenticate(req.headers.authorization);
        if (p.roles.size === 0) throw new ConnectError("no role", Code.PermissionDenied);
      } catch (e) {
        const err = ConnectError.from(e);
        send(
          err.code === Code.PermissionDenied ? 403 : 401,
          JSON.stringify({ code: Code[err.code], message: err.rawMessage }),
        );
        return true;
      }
    }
    try {
      const s = await sessions.get(m[1] as string);
      const body = rdpFileOf(s);
      if (body === "") {
        send(
          409,
          JSON.stringify({
            code: "failed_precondition",
            message: `session ${s.id} has no endpoint yet (${s.state})`,
          }),
        );
        return true;
      }
      res.writeHead(200, {
        "content-type": "application/x-rdp",
        "content-disposition": `attachment; filename="session-${s.id}.rdp"`,
        "cache-control": "no-store",
      });
      res.end(body);
    } catch (e) {
      if (e instanceof NotFoundError)
        send(404, JSON.stringify({ code: "not_found", message: e.message }));
      else throw e;
    }
    return true;
  };
}
