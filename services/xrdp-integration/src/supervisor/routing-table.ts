/**
 * The front door's routes: routing token -> the live, assigned instance it reaches. Tokens are
 * derived from instance ids (domain/routing-token.ts), so the table is rebuilt from the live
 * records at any time; it is refreshed every second and told at once of each StartInstance answer
 * (`note`), before the token leaves the service. Warm instances and instances without an owner have
 * no route. A token whose instance ended is remembered (bounded) so the door can say "ended"
 * rather than "unknown" in its log and metric; both are refused alike.
 */
import type { Logger } from "@lucid-rdp/runtime";
import { isLiveState } from "../domain/instance-states.js";
import { routingTokenFor } from "../domain/routing-token.js";
import type { InstanceRecord } from "../store/records.js";

/** What the door gets for a token. */
export type RouteLookup =
  | { kind: "route"; instanceId: string; serverId: string; port: number }
  | { kind: "ended"; instanceId: string };

export interface RoutingTableOptions {
  /** The node's routing key (host/routing-key-file.ts). */
  readonly key: Buffer;
  /** The live instance records. */
  readonly listLive: () => Promise<InstanceRecord[]>;
  readonly logger: Logger;
  /** @default 1000 */
  readonly refreshMs?: number;
  /** How many ended tokens are remembered. @default 4096 */
  readonly endedCapacity?: number;
}

interface Route {
  readonly instanceId: string;
  readonly serverId: string;
  readonly port: number;
}

export class RoutingTable {
  private readonly routes = new Map<string, Route>();
  private readonly tokens = new Map<string, string>();
  private readonly ended = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RoutingTableOptions) {}

  /** The routing token of instance `id` (whether or not it is routable now). */
  tokenOf(id: string): string {
    let token = this.tokens.get(id);
    if (token === undefined) {
      token = routingTokenFor(this.opts.key, id);
      // Bounded by the live instances and the ended ones remembered.
      if (this.tokens.size > 2 * (this.opts.endedCapacity ?? 4096)) this.tokens.clear();
      this.tokens.set(id, token);
    }
    return token;
  }

  /** Whether `r` is reachable through the door: live, handed out, with an owner. */
  static routable(r: InstanceRecord): boolean {
    return isLiveState(r.state) && r.warm !== true && r.owner !== undefined && r.owner !== "";
  }

  /** Adds or removes the route of `r` from its current record. */
  note(r: InstanceRecord): void {
    const token = this.tokenOf(r.id);
    if (RoutingTable.routable(r)) {
      this.routes.set(token, { instanceId: r.id, serverId: r.serverId, port: r.port });
      this.ended.delete(token);
    } else if (this.routes.delete(token) || !isLiveState(r.state)) {
      this.rememberEnded(token, r.id);
    }
  }

  /** What `token` reaches, or undefined for a token never issued here. */
  lookup(token: string): RouteLookup | undefined {
    const route = this.routes.get(token);
    if (route !== undefined) return { kind: "route", ...route };
    const ended = this.ended.get(token);
    return ended === undefined ? undefined : { kind: "ended", instanceId: ended };
  }

  /** Rebuilds the routes from the live records. */
  async refresh(): Promise<void> {
    const live = (await this.opts.listLive()).filter(RoutingTable.routable);
    const keep = new Set<string>();
    for (const r of live) {
      this.note(r);
      keep.add(this.tokenOf(r.id));
    }
    for (const [token, route] of this.routes) {
      if (!keep.has(token)) {
        this.routes.delete(token);
        this.rememberEnded(token, route.instanceId);
      }
    }
  }

  /** Refreshes now and then every `refreshMs`. */
  start(): void {
    const run = () =>
      this.refresh().catch((e: unknown) =>
        this.opts.logger.warn({ err: e }, "door routes not refreshed: kept as they were"),
      );
    void run();
    this.timer = setInterval(run, this.opts.refreshMs ?? 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** How many instances are routable now. */
  size(): number {
    return this.routes.size;
  }

  private rememberEnded(token: string, id: string): void {
    this.ended.set(token, id);
    const capacity = this.opts.endedCapacity ?? 4096;
    if (this.ended.size > capacity) {
      const oldest = this.ended.keys().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
  }
}
