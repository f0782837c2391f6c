/**
 * What every command works with: the global flags resolved once (endpoints, token, --json), the
 * generated clients of the three services, and the process's streams.
 */
import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { toJson } from "@bufbuild/protobuf";
import type { Client, Interceptor } from "@connectrpc/connect";
import {
  ResourceMonitorService,
  ServerManagerService,
  SessionControllerService,
} from "@lucid-rdp/gen";
import { createNodeClient } from "@lucid-rdp/gen/node";
import type { CallTarget } from "./describe-error.js";
import { endpointSources, resolveEndpoint, type ServiceKey } from "./endpoints.js";

/** The global flags, as commander parses them. */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly token?: string;
  readonly sessionController?: string;
  readonly serverManager?: string;
  readonly resourceMonitor?: string;
  /** Deadline of each call, in milliseconds. */
  readonly timeout?: number;
}

/** The outside world of the CLI; tests give their own. */
export interface CliIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stdin and stderr are terminals (confirmation prompts, spinners). */
  readonly interactive: boolean;
  /** Asks a yes/no question on the terminal. */
  readonly confirm: (question: string) => Promise<boolean>;
  readonly now: () => Date;
}

/** Longest deadline a streaming call gets: 8 digits of milliseconds, the most grpc-timeout holds. */
export const streamTimeoutMs = 99_999_999;

/** Per-invocation state: resolved options and lazily made clients. */
export class CliContext {
  /** The service the last call went to, for UNAVAILABLE's hint. */
  lastTarget: CallTarget | undefined;
  private readonly clients = new Map<ServiceKey, Client<DescService>>();

  constructor(
    readonly options: GlobalOptions,
    readonly io: CliIo,
  ) {}

  /** True with --json: print protobuf JSON instead of tables. */
  get json(): boolean {
    return this.options.json === true;
  }

  /** The client of session-controller. */
  sessions(): Client<typeof SessionControllerService> {
    return this.client("sessionController", SessionControllerService);
  }

  /** The client of server-manager. */
  servers(): Client<typeof ServerManagerService> {
    return this.client("serverManager", ServerManagerService);
  }

  /** The client of resource-monitor. */
  monitor(): Client<typeof ResourceMonitorService> {
    return this.client("resourceMonitor", ResourceMonitorService);
  }

  /** Where a session's .rdp file is downloaded: its path on session-controller's URL. */
  rdpFileUrl(path: string): string {
    if (path === "") return "";
    return new URL(
      path,
      resolveEndpoint("sessionController", this.options.sessionController, this.io.env),
    ).toString();
  }

  /** Prints `text` and a newline on stdout. */
  out(text: string): void {
    this.io.stdout(`${text}\n`);
  }

  /** Prints `text` and a newline on stderr. */
  err(text: string): void {
    this.io.stderr(`${text}\n`);
  }

  /** Prints `message` (or, with `many`, an array of them) as protobuf JSON on stdout. */
  printJson<D extends DescMessage>(schema: D, message: MessageShape<D> | MessageShape<D>[]): void {
    const value = Array.isArray(message)
      ? message.map((m) => toJson(schema, m))
      : toJson(schema, message);
    this.out(JSON.stringify(value, null, 2));
  }

  /** Prints `message` as one line of JSON (NDJSON for watches). */
  printJsonLine<D extends DescMessage>(schema: D, message: MessageShape<D>): void {
    this.out(JSON.stringify(toJson(schema, message)));
  }

  private client<S extends DescService>(key: ServiceKey, service: S): Client<S> {
    const cached = this.clients.get(key);
    if (cached !== undefined) return cached as unknown as Client<S>;
    const url = resolveEndpoint(key, this.options[key], this.io.env);
    const target: CallTarget = { service: endpointSources[key].name, url };
    const remember: Interceptor = (next) => (req) => {
      this.lastTarget = target;
      return next(req);
    };
    const token = this.options.token ?? this.io.env.LUCID_TOKEN;
    const client = createNodeClient(service, {
      baseUrl: url,
      timeoutMs: this.options.timeout ?? 30_000,
      token: token === undefined || token === "" ? undefined : token,
      interceptors: [remember],
    });
    this.clients.set(key, client as unknown as Client<DescService>);
    return client;
  }
}
