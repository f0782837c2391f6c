/** The errors the supervisor throws, as plain classes; error-rules.ts maps them to codes. */
/** Thrown when xrdp is not installed or XRDP_BIN does not point at it. */
export class XrdpUnavailableError extends Error {
  override readonly name = "XrdpUnavailableError";
  constructor(readonly reason: string) {
    super(`xrdp cannot be started: ${reason}`);
  }
}

/** Thrown when the requested port is already taken on this host. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(readonly port: number) {
    super(`port ${port} is already in use on this host`);
  }
}

/** Thrown when the host runs as many instances as it may. */
export class CapacityExceededError extends Error {
  override readonly name = "CapacityExceededError";
  constructor(readonly max: number) {
    super(`this host already runs its maximum of ${max} instances (XRDP_MAX_INSTANCES)`);
  }
}

/** Thrown when the account a StartInstance names may not own a desktop here. */
export class OwnerNotAllowedError extends Error {
  override readonly name = "OwnerNotAllowedError";
  constructor(
    readonly owner: string,
    readonly reason: string,
  ) {
    super(`owner ${JSON.stringify(owner)}: ${reason}`);
  }
}

/** Thrown when an instance cannot be stopped because it already ended. */
export class InstanceEndedError extends Error {
  override readonly name = "InstanceEndedError";
  constructor(
    readonly id: string,
    readonly state: string,
  ) {
    super(`instance ${id} is ${state}`);
  }
}

/**
 * Thrown when a call cannot finish because the service is shutting down: a retry (with the same
 * request id) reaches the next life of the service, which adopts or has stopped what this one
 * started.
 */
export class ShuttingDownError extends Error {
  override readonly name = "ShuttingDownError";
  constructor() {
    super("xrdp-integration is shutting down: retry");
  }
}

/** Thrown when no block of X displays is free for another instance's desktops. */
export class DisplaysExhaustedError extends Error {
  override readonly name = "DisplaysExhaustedError";
  constructor(
    readonly needed: number,
    readonly free: number,
  ) {
    super(`no block of ${needed} free X displays is left on this host (${free} free)`);
  }
}

/** Thrown for StartInstance without a port on a node whose clients connect to instances' ports. */
export class PortRequiredError extends Error {
  override readonly name = "PortRequiredError";
  constructor() {
    super(
      "port is required: this node has no RDP front door (RDP_DOOR=off), so clients connect to the instance's own port",
    );
  }
}

/** Thrown when no port of NODE_PORT_RANGE is free for an instance the node places itself. */
export class NoFreePortError extends Error {
  override readonly name = "NoFreePortError";
  constructor(readonly range: { readonly start: number; readonly end: number }) {
    super(`no port of NODE_PORT_RANGE ${range.start}-${range.end} is free on this host`);
  }
}

/** A local account name, as useradd accepts by default; root only where the floor allows it. */
const ownerPattern = /^[a-z_][a-z0-9_-]{0,31}$/;

/** @throws OwnerNotAllowedError when `owner` may not own an instance here. */
export function checkOwner(owner: string, allowRoot: boolean): void {
  if (!ownerPattern.test(owner)) {
    throw new OwnerNotAllowedError(
      owner,
      "must be a local account name: a lowercase letter or _, then up to 31 of a-z, 0-9, _ and -",
    );
  }
  if (owner.startsWith("ask")) {
    // xrdp reads a value beginning with "ask" as a prompt: the client would choose the user.
    throw new OwnerNotAllowedError(owner, 'must not begin with "ask" (xrdp reads it as a prompt)');
  }
  if (owner === "root" && !allowRoot) {
    throw new OwnerNotAllowedError(owner, "root may not log in (XRDP_ALLOW_ROOT_LOGIN is off)");
  }
}
