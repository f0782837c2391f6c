/**
 * Environment configuration: every service reads its settings from env vars once, at start, into a
 * typed object. A bad value is a ConfigError naming the variable and what it accepts; `exitOnConfigError`
 * turns it into one line on stderr and exit status 2.
 */
import { isIP } from "node:net";

/** Thrown when an environment variable holds a value the service cannot use. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    /** The variable at fault. */
    readonly variable: string,
    /** What the variable accepts, in words. */
    readonly accepts: string,
    /** The value found, if any (never printed for secrets). */
    readonly value?: string,
  ) {
    super(
      value === undefined
        ? `${variable}: ${accepts}`
        : `${variable}=${JSON.stringify(value)} is not valid: expected ${accepts}`,
    );
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Typed readers over an env map. Each returns the default when the variable is unset or empty. */
export class EnvReader {
  constructor(private readonly env: Env = process.env) {}

  /** The raw value, or undefined when unset or empty. */
  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  string(name: string, opts: { default?: string; pattern?: RegExp; accepts?: string } = {}) {
    const v = this.raw(name);
    if (v === undefined) return opts.default;
    if (opts.pattern !== undefined && !opts.pattern.test(v)) {
      throw new ConfigError(name, opts.accepts ?? `a value matching ${opts.pattern}`, v);
    }
    return v;
  }

  /** A secret: the value is never echoed in an error. */
  secret(name: string, opts: { minLength?: number } = {}): string | undefined {
    const v = this.raw(name);
    if (v !== undefined && opts.minLength !== undefined && v.length < opts.minLength) {
      throw new ConfigError(name, `at least ${opts.minLength} characters`);
    }
    return v;
  }

  int(name: string, opts: { default: number; min: number; max: number }): number {
    const v = this.raw(name);
    if (v === undefined) return opts.default;
    const accepts = `an integer from ${opts.min} to ${opts.max}`;
    if (!/^-?\d+$/.test(v)) throw new ConfigError(name, accepts, v);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) {
      throw new ConfigError(name, accepts, v);
    }
    return n;
  }

  bool(name: string, def: boolean): boolean {
    const v = this.raw(name);
    if (v === undefined) return def;
    const l = v.toLowerCase();
    if (["1", "true", "yes", "on"].includes(l)) return true;
    if (["0", "false", "no", "off"].includes(l)) return false;
    throw new ConfigError(name, "true or false (also 1/0, yes/no, on/off)", v);
  }

  oneOf<T extends string>(name: string, values: readonly T[], def: T): T {
    const v = this.raw(name);
    if (v === undefined) return def;
    const l = v.toLowerCase();
    const found = values.find((x) => x === l);
    if (found === undefined) throw new ConfigError(name, `one of ${values.join(", ")}`, v);
    return found;
  }

  /** An http(s) URL. */
  url(name: string, opts: { default?: string; protocols?: string[] } = {}): string | undefined {
    const v = this.raw(name) ?? opts.default;
    if (v === undefined) return undefined;
    const protocols = opts.protocols ?? ["http:", "https:"];
    const accepts = `a URL (${protocols.join(" or ")})`;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) throw new ConfigError(name, accepts, v);
      return v;
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      throw new ConfigError(name, accepts, v);
    }
  }

  /** A comma-separated list; each item checked by `item`, which returns false to reject it. */
  list(name: string, opts: { accepts: string; item?: (s: string) => boolean }): string[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    const items = v
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    for (const it of items) {
      if (opts.item !== undefined && !opts.item(it)) throw new ConfigError(name, opts.accepts, v);
    }
    return items;
  }
}

/** True when `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return false;
}

/** Reports a ConfigError as one line on stderr and exits with status 2; rethrows anything else. */
export function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`config error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
