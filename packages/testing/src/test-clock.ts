/**
 * The controllable clock of full-process tests. A service started with its test-clock variable
 * (SESSION_TEST_CLOCK_FILE, MONITOR_TEST_CLOCK_FILE) pointing at {@link TestClock.file} reads the
 * milliseconds it holds and adds them to real time. The offset only moves forward, and is written
 * atomically (a temporary file renamed over it), so a service never reads a half-written offset
 * (which would read as 0).
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** How a {@link TestClock} is made. */
export interface TestClockOptions {
  /**
   * What {@link TestClock.advancePast} adds past the time it is given, in milliseconds.
   * @default 1000
   */
  readonly marginMs?: number;
  /**
   * The prefix of its temporary directory.
   * @default "lucid-clock-"
   */
  readonly prefix?: string;
}

/** A file-offset clock that tests move forward and services read (see the file comment). */
export class TestClock {
  private offsetMs = 0;
  /** Its temporary directory; {@link TestClock.remove} deletes it. */
  readonly dir: string;
  /** The file holding the offset in milliseconds: give it to the services under test. */
  readonly file: string;
  private readonly marginMs: number;

  constructor(opts: TestClockOptions = {}) {
    this.marginMs = opts.marginMs ?? 1_000;
    this.dir = mkdtempSync(join(tmpdir(), opts.prefix ?? "lucid-clock-"));
    this.file = join(this.dir, "offset-ms");
    this.write(0);
  }

  /**
   * Moves the services' clock to at least `time` (a Date or epoch milliseconds) plus `marginMs`;
   * never moves it back.
   */
  advancePast(time: Date | number, marginMs = this.marginMs): void {
    const timeMs = typeof time === "number" ? time : time.getTime();
    const offset = Math.ceil(timeMs + marginMs - Date.now());
    if (offset > this.offsetMs) this.write(offset);
  }

  /** Deletes the clock's directory. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private write(offset: number): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, String(offset));
    renameSync(tmp, this.file);
    this.offsetMs = offset;
  }
}
