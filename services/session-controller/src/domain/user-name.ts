/**
 * The user name rule of the contract (CreateSessionRequest.user): 1 to 64 characters of letters,
 * digits and `_.@-`, not starting with `.`, `@` or `-`. The domain checks it again wherever a user
 * name goes into a file or a key, rather than trusting that the edge did.
 */

/** CreateSessionRequest.user's pattern and length, in one expression. */
export const userNamePattern = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/;

/** True when `user` follows the contract's user name rule. */
export function isUserName(user: string): boolean {
  return typeof user === "string" && userNamePattern.test(user);
}
