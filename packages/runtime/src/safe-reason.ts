/**
 * A failing check's error as the open /health endpoint shows it: its first line, at most
 * {@link safeReasonMaxChars} characters, with whatever could be a credential taken out: the
 * userinfo of a URL (mongodb://user:password@host, redis://:password@host), the value of a
 * password/secret/token/key parameter, and a bearer token. Hosts and ports stay: they are what an
 * operator needs to fix the dependency. Stacks never reach it (only `Error.message` does).
 */

/** The longest reason /health shows; the log has the whole error. */
export const safeReasonMaxChars = 200;

const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi;
const secretParam =
  /\b((?:password|passwd|pwd|secret|token|access_token|api_?key|key|auth)\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,]+)/gi;
const bearer = /\b(bearer\s+)[a-z0-9._~+/=-]+/gi;

/** `message` with credentials redacted, on one line and at most 200 characters. */
export function safeReason(message: string): string {
  const firstLine = message.split(/\r?\n/, 1)[0] ?? "";
  const redacted = firstLine
    .replace(userinfo, "$1[redacted]@")
    .replace(secretParam, "$1[redacted]")
    .replace(bearer, "$1[redacted]");
  return redacted.length > safeReasonMaxChars
    ? `${redacted.slice(0, safeReasonMaxChars - 1)}…`
    : redacted;
}
