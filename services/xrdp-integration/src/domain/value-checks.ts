/**
 * The one copy of the per-value checks: the settings rules (`resolveSettings`) and the INI
 * renderers (xrdp.ini, sesman.ini, instance paths) all check values here. Each check tests the
 * type and the exact form, returns the value it accepted, and otherwise throws the error class the
 * caller chose (SettingsValueError for settings, IniValueError for the INI files) naming the field.
 * A reason never contains the value itself. Nothing is ever cleaned: a value passes or is refused.
 */

/** An error class the checks throw: `new ErrorClass(field, reason)`. */
export type ValueErrorClass = new (field: string, reason: string) => Error;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const absolutePathPattern = /^\/[A-Za-z0-9._/-]+$/;
const ipv4Octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
/** Dotted quad without leading zeros (inet_aton would read `010` as octal). */
const ipv4Pattern = new RegExp(`^${ipv4Octet}(\\.${ipv4Octet}){3}$`);
/** An OpenSSL cipher name as the API accepts it (letters, digits, `_`, `-`). */
const cipherNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/**
 * An OpenSSL TLS 1.2 cipher suite name: upper-case words joined by `-`, at least two words, so
 * cipher-string keywords (`ALL`, `HIGH`, `DEFAULT`), operators (`!`, `+`, `@`) and separators
 * (`:`, `,`, space) cannot be passed as a "name".
 */
const cipherSuitePattern = /^[A-Z0-9]+(-[A-Z0-9]+)+$/;
/** Never acceptable in a cipher suite, whatever a floor says. */
const weakCipherParts = /NULL|EXP|ADH|AECDH|RC4|DES|MD5|PSK|SRP|ANON/;
/** A local account name: POSIX portable, as useradd accepts by default. */
const accountNamePattern = /^[a-z_][a-z0-9_-]{0,31}$/;
const groupNamePattern = /^[a-z_][a-z0-9_-]{0,31}$/;
const fileNamePattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;
const envNamePattern = /^[A-Z_][A-Z0-9_]{0,63}$/;
const commandArgPattern = /^[A-Za-z0-9._/%+,:-]{1,255}$/;

/** The value checks, each throwing the error class given to the constructor. */
export class ValueChecks {
  /** @param errorClass what a refused value throws, e.g. IniValueError or SettingsValueError. */
  constructor(private readonly errorClass: ValueErrorClass) {}

  private fail(field: string, reason: string): never {
    throw new this.errorClass(field, reason);
  }

  /** A safe integer from `min` to `max`. */
  integer(field: string, value: unknown, min: number, max: number): number {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `must be an integer from ${min} to ${max}`);
    }
    return value;
  }

  /** A boolean (not a string or number standing for one). */
  boolean(field: string, value: unknown): boolean {
    if (typeof value !== "boolean") this.fail(field, "must be a boolean");
    return value;
  }

  /** One of `allowed`. */
  oneOf<T extends string | number>(field: string, value: unknown, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) {
      this.fail(field, `must be one of ${allowed.join(", ")}`);
    }
    return value as T;
  }

  /** An array of `min` to `max` items (the items are not checked). */
  list<T>(field: string, value: unknown, min: number, max: number): readonly T[] {
    if (!Array.isArray(value) || value.length < min || value.length > max) {
      this.fail(field, `must be a list of ${min} to ${max} items`);
    }
    return value as T[];
  }

  /** A list without repeated items. */
  distinct<T>(field: string, list: readonly T[]): readonly T[] {
    if (new Set(list).size !== list.length) this.fail(field, "must not repeat an item");
    return list;
  }

  /** A lowercase UUID. */
  uuid(field: string, value: unknown): string {
    if (typeof value !== "string" || !uuidPattern.test(value)) {
      this.fail(field, "must be a lowercase UUID");
    }
    return value;
  }

  /** An absolute path of at most 255 letters, digits and `._/-`, not `/` alone, without `..`. */
  absolutePath(field: string, value: unknown): string {
    if (
      typeof value !== "string" ||
      value.length > 255 ||
      !absolutePathPattern.test(value) ||
      value.includes("..")
    ) {
      this.fail(
        field,
        "must be an absolute path of at most 255 letters, digits and ._/- without ..",
      );
    }
    return value;
  }

  /** A file name (no directory) of letters, digits and `._-`, without `..`. */
  fileName(field: string, value: unknown): string {
    if (typeof value !== "string" || !fileNamePattern.test(value) || value.includes("..")) {
      this.fail(field, "must be a file name of letters, digits and ._- without ..");
    }
    return value;
  }

  /** An IPv4 address as a dotted quad without leading zeros. */
  ipv4(field: string, value: unknown): string {
    if (typeof value !== "string" || !ipv4Pattern.test(value)) {
      this.fail(field, "must be an IPv4 address in dotted-quad form");
    }
    return value;
  }

  /** An IPv4 address of 127.0.0.0/8. */
  loopbackIpv4(field: string, value: unknown): string {
    const v = this.ipv4(field, value);
    if (!v.startsWith("127.")) this.fail(field, "must be a loopback address");
    return v;
  }

  /** An OpenSSL cipher name as the API accepts it: 1 to 64 letters, digits, `_` and `-`. */
  cipherName(field: string, value: unknown): string {
    if (typeof value !== "string" || !cipherNamePattern.test(value)) {
      this.fail(field, "must be an OpenSSL cipher name of 1 to 64 letters, digits, _ and -");
    }
    return value;
  }

  /**
   * A TLS 1.2 cipher suite name as xrdp's `tls_ciphers` may carry it: upper-case words joined by
   * `-` (never cipher-string syntax), at most 64 characters, and never a weak suite (NULL, EXP,
   * ADH, AECDH, RC4, DES, MD5, PSK, SRP, anon).
   */
  cipherSuite(field: string, value: unknown): string {
    if (typeof value !== "string" || value.length > 64 || !cipherSuitePattern.test(value)) {
      this.fail(
        field,
        "must be an OpenSSL TLS 1.2 cipher suite name (upper-case words joined by -)",
      );
    }
    if (weakCipherParts.test(value)) {
      this.fail(field, "names a cipher suite that is never allowed");
    }
    return value;
  }

  /**
   * A local account name (POSIX portable) that does not begin with "ask": xrdp reads any value
   * that begins with "ask" as "ask the client" (xrdp_login_wnd.c, xrdp_wm.c), so such an account
   * would let the client choose the user.
   */
  accountName(field: string, value: unknown): string {
    if (typeof value !== "string" || !accountNamePattern.test(value)) {
      this.fail(field, "must be a local account name (a-z, 0-9, _ and -, 32 at most)");
    }
    if (value.startsWith("ask")) {
      this.fail(field, 'must not begin with "ask", which xrdp reads as a prompt');
    }
    return value;
  }

  /** A POSIX group name. */
  groupName(field: string, value: unknown): string {
    if (typeof value !== "string" || !groupNamePattern.test(value)) {
      this.fail(field, "must be a POSIX group name");
    }
    return value;
  }

  /** An upper-case environment variable name. */
  envName(field: string, value: string): string {
    if (!envNamePattern.test(value)) {
      this.fail(field, "names must be upper-case environment variable names");
    }
    return value;
  }

  /** A command-line argument of letters, digits and `._/%+,:-`, without `..`. */
  commandArg(field: string, value: unknown): string {
    if (!isCommandWord(value)) {
      this.fail(field, "must be an argument of letters, digits and ._/%+,:- without ..");
    }
    return value;
  }

  /** An environment variable's value: the same characters as {@link ValueChecks.commandArg}. */
  envValue(field: string, value: unknown): string {
    if (!isCommandWord(value)) {
      this.fail(field, "must be letters, digits and ._/%+,:- without ..");
    }
    return value;
  }
}

function isCommandWord(value: unknown): value is string {
  return typeof value === "string" && commandArgPattern.test(value) && !value.includes("..");
}
