/** What a call failed with, for tests that expect a failure. */
import { ConnectError } from "@connectrpc/connect";

/** The ConnectError the promise rejects with (any error, as ConnectError.from makes it), or undefined when it resolves. */
export async function connectErrorOf(p: Promise<unknown>): Promise<ConnectError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return ConnectError.from(e);
  }
}
