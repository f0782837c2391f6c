/**
 * The host's one xrdp-sesman (XRDP_SESMAN=managed): `xrdp-sesman --nodaemon --config <ini>`, its
 * config rendered like xrdp's, restarted with backoff when it exits. xrdp 0.9 finds sesman at the
 * ListenPort of /etc/xrdp/sesman.ini, so ours listens where that file says (3350 by default).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@lucid-rdp/runtime";
import { renderSesmanIni, type SesmanSettings } from "../domain/ini.js";
import { writeFileAtomic } from "../domain/tls-material.js";
import { type ProcessHandle, spawnProcess } from "./process-handle.js";

export interface SesmanOptions {
  readonly bin: string;
  readonly stateDir: string;
  readonly settings: SesmanSettings;
  readonly logger: Logger;
  /** @default 1000 (doubling to 60 s) */
  readonly backoffMs?: number;
  /** Where sesman listens; xrdp looks at /etc/xrdp/sesman.ini's ListenPort. @default 3350 */
  readonly listenPort?: number;
}

export class SesmanSupervisor {
  private handle: ProcessHandle | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private lastError = "not started";

  constructor(private readonly opts: SesmanOptions) {}

  /** Whether sesman runs now, and why not. */
  status(): { running: boolean; reason: string } {
    return this.handle ? { running: true, reason: "" } : { running: false, reason: this.lastError };
  }

  async start(): Promise<void> {
    const dir = join(this.opts.stateDir, "sesman");
    const ini = join(dir, "sesman.ini");
    const text = renderSesmanIni({
      settings: this.opts.settings,
      logFile: join(dir, "sesman.log"),
      listenPort: this.opts.listenPort,
    });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(ini, text, 0o600);
    await this.spawn(ini);
  }

  private async spawn(ini: string): Promise<void> {
    if (this.stopped) return;
    try {
      const handle = await spawnProcess(this.opts.bin, ["--nodaemon", "--config", ini]);
      this.handle = handle;
      const started = Date.now();
      void handle.exited.then((exit) => {
        this.handle = undefined;
        handle.killGroup("SIGKILL");
        if (this.stopped) return;
        this.failures = Date.now() - started > 60_000 ? 1 : this.failures + 1;
        this.lastError = `xrdp-sesman exited (${exit.signal ?? `code ${exit.exitCode}`}): ${handle.output.slice(-2).join(" | ")}`;
        const delay = Math.min((this.opts.backoffMs ?? 1000) * 2 ** (this.failures - 1), 60_000);
        this.opts.logger.warn(
          { exit, retryInMs: delay, output: handle.output.slice(-5) },
          "xrdp-sesman exited",
        );
        this.timer = setTimeout(() => void this.spawn(ini), delay);
        this.timer.unref();
      });
    } catch (e) {
      this.lastError = e instanceof Error ? e.message : String(e);
      this.opts.logger.error({ err: e }, "xrdp-sesman could not be spawned");
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const h = this.handle;
    if (!h) return;
    h.killGroup("SIGTERM");
    const ended = await Promise.race([
      h.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
    ]);
    if (!ended) h.killGroup("SIGKILL");
    await h.exited;
  }
}
