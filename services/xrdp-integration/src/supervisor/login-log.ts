/**
 * Follows each live instance's xrdp log for the lines that state logins (domain/xrdp-log.ts): a
 * read from the last offset per poll, at most 256 KiB at a time, a partial last line kept for the
 * next read. A log that shrank (a new instance, or rotated) is read again from its start.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { parseXrdpLogLine, type XrdpLogEvent } from "../domain/xrdp-log.js";

const maxReadBytes = 256 * 1024;
/** A line longer than this is not one of xrdp's login lines: it is dropped, not buffered. */
const maxLineBytes = 4096;

interface Cursor {
  offset: number;
  partial: string;
}

export class LoginLog {
  private readonly cursors = new Map<string, Cursor>();

  /** The login facts xrdp logged for the instance since the last read. */
  read(instance: { readonly id: string; readonly configDir?: string }): XrdpLogEvent[] {
    if (instance.configDir === undefined) return [];
    const file = join(instance.configDir, `xrdp-${instance.id}.log`);
    let cursor = this.cursors.get(instance.id);
    if (cursor === undefined) {
      cursor = { offset: 0, partial: "" };
      this.cursors.set(instance.id, cursor);
    }
    let fd: number | undefined;
    let text: string;
    try {
      fd = openSync(file, "r");
      const size = fstatSync(fd).size;
      if (size < cursor.offset) {
        cursor.offset = 0;
        cursor.partial = "";
      }
      const length = Math.min(size - cursor.offset, maxReadBytes);
      if (length <= 0) return [];
      const buf = Buffer.alloc(length);
      const n = readSync(fd, buf, 0, length, cursor.offset);
      cursor.offset += n;
      text = cursor.partial + buf.subarray(0, n).toString("utf8");
    } catch {
      return []; // not written yet, or gone with its instance
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    const lines = text.split("\n");
    const last = lines.pop() ?? "";
    cursor.partial = last.length > maxLineBytes ? "" : last;
    const events: XrdpLogEvent[] = [];
    for (const line of lines) {
      if (line.length > maxLineBytes) continue;
      const e = parseXrdpLogLine(line);
      if (e) events.push(e);
    }
    return events;
  }

  /** Forgets instances that are no longer live. */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.cursors.keys()) if (!ids.has(id)) this.cursors.delete(id);
  }
}
