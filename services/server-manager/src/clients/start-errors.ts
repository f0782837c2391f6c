/** How server-manager reads a failed StartInstance: certain, or the instance may exist. */
import { Code, type ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@lucid-rdp/runtime";
import type { StartFailure } from "../domain/start-instance-failed-error.js";

/**
 * True when a failed StartInstance may have started (or may yet start) the instance, or was not
 * seen by the node at all, so that the same call later can succeed: the node went away
 * (UNAVAILABLE: connection refused or reset, REFUSED_STREAM; CANCELLED: a peer that died mid-call),
 * ran out of time (DEADLINE_EXCEEDED), broke mid-call (UNKNOWN, INTERNAL: how HTTP/2 resets reach
 * the client), or found the request in flight (ABORTED: REQUEST_IN_PROGRESS after a node restart,
 * CONCURRENT_UPDATE). RESOURCE_EXHAUSTED is the node's capacity refusal, certain, when it carries
 * the node's ErrorInfo; without one it is transport back-pressure (HTTP/2 ENHANCE_YOUR_CALM).
 * Everything else is the node's definite answer.
 */
export function isUncertain(err: ConnectError): boolean {
  switch (err.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Canceled:
    case Code.Unknown:
    case Code.Internal:
    case Code.Aborted:
      return true;
    case Code.ResourceExhausted:
      return err.findDetails(ErrorInfoSchema).length === 0;
    default:
      return false;
  }
}

/**
 * A failed StartInstance in domain terms: uncertain (see `isUncertain`), else the node could not
 * bind the port (ErrorInfo PORT_IN_USE), refused for certain (INVALID_ARGUMENT, or the node's own
 * RESOURCE_EXHAUSTED), or failed.
 */
export function startFailureOf(err: ConnectError): StartFailure {
  if (isUncertain(err)) return "uncertain";
  if (err.findDetails(ErrorInfoSchema).some((d) => d.reason === "PORT_IN_USE")) {
    return "port_in_use";
  }
  if (err.code === Code.InvalidArgument || err.code === Code.ResourceExhausted) return "refused";
  return "failed";
}
