/**
 * The injection-proof INI layer: renders xrdp.ini and sesman.ini for xrdp 0.9.21 from typed input.
 *
 * xrdp's INI reader (common/file.c) has no quoting and no escaping:
 * - CR or LF ends a line;
 * - `#` or `;` ANYWHERE starts a comment and silently cuts the value (`security_layer=t#ls` reads
 *   "t", which xrdp does not recognise and replaces by `negotiate`: a silent downgrade);
 * - `[x]` anywhere on a line makes the line a section header;
 * - a value starting with `$` is replaced by the environment variable of that name;
 * - names and values are trimmed, and a line of 2048 bytes or more stops the reading: the rest of
 *   the file is ignored (xrdp 0.9.21 then neither logs nor listens);
 * - some readers take only the first 32 KiB of a file.
 *
 * So every value passes an allowlist for ITS field, and anything else throws IniValueError naming
 * the field: nothing is ever cleaned or escaped. At render time a generic check runs again over
 * every line (defence in depth). Rendering is pure; writing (`writeXrdpIni`, `writeSesmanIni`)
 * renders completely before touching the disk, so a rejected value never reaches a file.
 */
import { join } from "node:path";
import { writeFileAtomic } from "./tls-material.js";
import {
  cryptLevels,
  type EffectiveSettings,
  maxBppValues,
  maxCipherCount,
  securityLayers,
  tlsProtocols,
} from "./xrdp-settings.js";

/** Thrown when a value may not be written to an xrdp INI file. */
export class IniValueError extends Error {
  override readonly name = "IniValueError";
  /**
   * @param field the input field, as a proto field path where one exists (`settings.tls_ciphers[2]`)
   * @param reason why the value is refused; never contains the value itself.
   */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** An xrdp log level, as its INI files spell it. */
export type IniLogLevel = "CORE" | "ERROR" | "WARNING" | "INFO" | "DEBUG" | "TRACE";
/** A session type of xrdp.ini (a section of the login screen's list). */
export type SessionType = "Xorg" | "Xvnc";
/** sesman's session allocation policy. */
export type SessionPolicy = "Default" | "UBD" | "UBI" | "UBC" | "UBDI" | "UBDC";
/** A clipboard direction restriction of sesman (`none`, `all`, or a list of kinds). */
export type ClipboardRestriction = "none" | "all" | "text" | "file" | "image";

const logLevels: readonly IniLogLevel[] = ["CORE", "ERROR", "WARNING", "INFO", "DEBUG", "TRACE"];
const sessionTypes: readonly SessionType[] = ["Xorg", "Xvnc"];
const sessionPolicies: readonly SessionPolicy[] = ["Default", "UBD", "UBI", "UBC", "UBDI", "UBDC"];
const clipboardKinds: readonly ClipboardRestriction[] = ["none", "all", "text", "file", "image"];

/** xrdp reads at most this many bytes of a line, terminator excluded, minus one. */
export const maxIniLineBytes = 2047;
/** xrdp's fd-based reader takes only the first 32 KiB of a file. */
export const maxIniFileBytes = 32 * 1024;

/** The files of one instance: everything carries the instance id, the supervisor's marker. */
export interface InstancePaths {
  /** `<root>/<id>`, the instance's private directory (0700). */
  readonly dir: string;
  /** `<root>/<id>/xrdp-<id>.ini`, passed as `--config`: its presence in a command line marks the process. */
  readonly xrdpIni: string;
  /** `<root>/<id>/xrdp-<id>.log`, the LogFile of xrdp.ini. */
  readonly logFile: string;
  /** `<root>/<id>/tls`, where generated certificate and key go. */
  readonly tlsDir: string;
}

/**
 * The paths of an instance's files under `rootDir`.
 *
 * @throws IniValueError when `rootDir` is not a safe absolute path or `instanceId` not a UUID.
 */
export function instancePaths(rootDir: string, instanceId: string): InstancePaths {
  const root = absolutePath("root_dir", rootDir);
  const id = uuid("instance_id", instanceId);
  const dir = absolutePath("instance_dir", join(root, id));
  return {
    dir,
    xrdpIni: absolutePath("config_path", join(dir, `xrdp-${id}.ini`)),
    logFile: absolutePath("log_file", join(dir, `xrdp-${id}.log`)),
    tlsDir: absolutePath("tls_dir", join(dir, "tls")),
  };
}

/** Input of {@link renderXrdpIni}. */
export interface XrdpIniInput {
  /** The instance's id, a lowercase UUID; it goes into the LogFile name. */
  readonly instanceId: string;
  /** The instance's directory (absolute); LogFile is `<instanceDir>/xrdp-<instanceId>.log`. */
  readonly instanceDir: string;
  /** The IPv4 address to listen on, dotted quad without leading zeros (`0.0.0.0` for all). */
  readonly listenAddress: string;
  /** The TCP port to listen on, 1 to 65535. */
  readonly port: number;
  /** The settings in force, with `tlsCertPath` and `tlsKeyPath` set (absolute, non-empty). */
  readonly settings: EffectiveSettings;
  /**
   * Level of the log file and the console (stdout).
   * @default "INFO"
   */
  readonly logLevel?: IniLogLevel;
  /**
   * The session types offered, in order.
   * @default ["Xorg"]
   */
  readonly sessionTypes?: readonly SessionType[];
  /**
   * The one local account the instance admits (a POSIX user name). Every session section fixes
   * `username` to it: xrdp then never shows a user name field and ignores the name a client
   * sends with its credentials (xrdp_wm.c, xrdp_login_wnd.c in 0.9.21 and 0.10.1), so only this
   * account's password opens a desktop.
   */
  readonly owner: string;
  /**
   * The loopback address of the instance's own xrdp-sesman (`ip` of the session sections): xrdp
   * 0.9 asks the sesman at this address, on the port of /etc/xrdp/sesman.ini.
   */
  readonly sesmanAddress: string;
}

/**
 * Renders an instance's xrdp.ini: [Globals], [Logging], [Channels] and one section per session
 * type, with only keys xrdp 0.9.21 reads.
 *
 * @throws IniValueError naming the first field whose value is not allowed.
 */
export function renderXrdpIni(input: XrdpIniInput): string {
  const s = input.settings;
  const id = uuid("instance_id", input.instanceId);
  const dir = absolutePath("instance_dir", input.instanceDir);
  const logLevel = oneOf("log_level", input.logLevel ?? "INFO", logLevels);
  const types = list<SessionType>(
    "session_types",
    input.sessionTypes ?? ["Xorg"],
    1,
    sessionTypes.length,
  );
  const owner = accountName("owner", input.owner);
  const sesmanAddress = loopbackIpv4("sesman_address", input.sesmanAddress);
  const sections: IniSection[] = [
    {
      // Security-relevant keys first.
      name: "Globals",
      entries: [
        ["ini_version", "1", "ini_version"],
        [
          "security_layer",
          oneOf("settings.security_layer", s.securityLayer, securityLayers),
          "settings.security_layer",
        ],
        [
          "crypt_level",
          oneOf("settings.crypt_level", s.cryptLevel, cryptLevels),
          "settings.crypt_level",
        ],
        [
          "certificate",
          absolutePath("settings.tls_cert_path", s.tlsCertPath),
          "settings.tls_cert_path",
        ],
        ["key_file", absolutePath("settings.tls_key_path", s.tlsKeyPath), "settings.tls_key_path"],
        [
          "ssl_protocols",
          tlsProtocolList("settings.tls_protocols", s.tlsProtocols),
          "settings.tls_protocols",
        ],
        ["tls_ciphers", cipherList("settings.tls_ciphers", s.tlsCiphers), "settings.tls_ciphers"],
        ["fork", "true"],
        [
          "port",
          `tcp://${ipv4("listen_address", input.listenAddress)}:${integer("port", input.port, 1, 65_535)}`,
          "port",
        ],
        ["use_vsock", "false"],
        ["tcp_nodelay", "true"],
        ["tcp_keepalive", "true"],
        ["allow_channels", "true"],
        [
          "allow_multimon",
          boolean("settings.allow_multimon", s.allowMultimon),
          "settings.allow_multimon",
        ],
        ["max_bpp", String(oneOf("settings.max_bpp", s.maxBpp, maxBppValues)), "settings.max_bpp"],
        ["bitmap_cache", "true"],
        ["bitmap_compression", "true"],
        ["bulk_compression", "true"],
        ["new_cursors", "true"],
        ["use_fastpath", "both"],
        // The log window is how a client whose login is refused learns why ("login failed for
        // user <owner>"; 0.10: "User does not exist, or could not be authenticated"). Hidden, a
        // refused client just sees the login box again. It also shows the owner's account name
        // and the sesman's loopback address to whoever reached the login screen.
        ["hidelogwindow", "false"],
      ],
    },
    {
      name: "Logging",
      entries: [
        ["LogFile", absolutePath("log_file", join(dir, `xrdp-${id}.log`)), "log_file"],
        ["LogLevel", logLevel, "log_level"],
        ["EnableSyslog", "false"],
        ["EnableConsole", "true"],
        ["ConsoleLevel", logLevel, "log_level"],
        // `[pid:N tid:M]` on every line: the login watcher ties a login to its connection.
        ["EnableProcessId", "true"],
      ],
    },
    {
      // Channels not listed are blocked by xrdp; unused ones are off (least privilege).
      name: "Channels",
      entries: [
        [
          "rdpdr",
          boolean("settings.drive_redirection", s.driveRedirection),
          "settings.drive_redirection",
        ],
        ["rdpsnd", boolean("settings.audio", s.audio), "settings.audio"],
        ["cliprdr", boolean("settings.clipboard", s.clipboard), "settings.clipboard"],
        ["drdynvc", "true"],
        ["rail", "false"],
        ["xrdpvr", "false"],
        ["tcutils", "false"],
      ],
    },
    ...types.map((type, i) => sessionSection(`session_types[${i}]`, type, owner, sesmanAddress)),
  ];
  return renderIni(sections);
}

function sessionSection(
  field: string,
  type: SessionType,
  owner: string,
  sesmanAddress: string,
): IniSection {
  oneOf(field, type, sessionTypes);
  const common: IniEntry[] = [
    ["name", type],
    ["lib", type === "Xorg" ? "libxup.so" : "libvnc.so"],
    // Fixed, not `ask`: the client cannot choose another account (see XrdpIniInput.owner).
    ["username", owner, "owner"],
    ["password", "ask"],
    ["ip", sesmanAddress, "sesman_address"],
    ["port", "-1"],
  ];
  return { name: type, entries: type === "Xorg" ? [...common, ["code", "20"]] : common };
}

/** Host-wide sesman settings: one xrdp-sesman serves every instance of the host. */
export type SesmanSettings = Pick<
  EffectiveSettings,
  | "allowRootLogin"
  | "maxSessions"
  | "killDisconnected"
  | "idleTimeLimitSec"
  | "disconnectedTimeLimitSec"
>;

/** Input of {@link renderSesmanIni}. */
export interface SesmanIniInput {
  /** The session limits and root login rule, e.g. an EffectiveSettings of the service defaults. */
  readonly settings: SesmanSettings;
  /** Absolute path of sesman's log file. */
  readonly logFile: string;
  /**
   * The loopback IPv4 address sesman listens on: each instance has a sesman of its own at an
   * address of 127.0.0.0/8, so instances (and two services on one host) never share one.
   * @default "127.0.0.1"
   */
  readonly listenAddress?: string;
  /**
   * The xrdp-sesman the file is for. 0.10 listens on a UNIX socket (ListenPort is its name in
   * the socket directory), has no ListenAddress, and searches displays only up to
   * MaxDisplayNumber.
   * @default "0.9"
   */
  readonly xrdpVersion?: "0.9" | "0.10";
  /**
   * The port sesman listens on (always on 127.0.0.1). xrdp 0.9.21 finds sesman through
   * ListenPort of /etc/xrdp/sesman.ini, whatever `--config` says, so this must match it.
   * @default 3350
   */
  readonly listenPort?: number;
  /** @default "INFO" */
  readonly logLevel?: IniLogLevel;
  /** Failed logins allowed per connection, 0 to 100 (0: unlimited). @default 3 */
  readonly maxLoginRetry?: number;
  /** The group whose members may log in (POSIX group name). @default "tsusers" */
  readonly terminalServerUsers?: string;
  /** The admins' group (ignored by xrdp 0.9.21). @default "tsadmins" */
  readonly terminalServerAdmins?: string;
  /** Whether TerminalServerUsers is required even when the group does not exist. @default false */
  readonly alwaysGroupCheck?: boolean;
  /** What may not be copied from the server to the client. @default ["none"] */
  readonly restrictOutboundClipboard?: readonly ClipboardRestriction[];
  /** What may not be copied from the client to the server. @default ["none"] */
  readonly restrictInboundClipboard?: readonly ClipboardRestriction[];
  /** The first X display number, 1 to 1000. @default 10 */
  readonly x11DisplayOffset?: number;
  /** @default "Default" */
  readonly policy?: SessionPolicy;
  /** Whether a user's own ~/startwm.sh may replace the default. @default true */
  readonly enableUserWindowManager?: boolean;
  /** File name of the user's script, relative to $HOME. @default "startwm.sh" */
  readonly userWindowManager?: string;
  /** @default "/etc/xrdp/startwm.sh" */
  readonly defaultWindowManager?: string;
  /** @default "/etc/xrdp/reconnectwm.sh" */
  readonly reconnectScript?: string;
  /** The Xorg command line, binary first. @default Debian's (see defaultXorgParams) */
  readonly xorgParams?: readonly string[];
  /** The Xvnc command line, binary first. @default Debian's (see defaultXvncParams) */
  readonly xvncParams?: readonly string[];
  /** Environment variables of sessions. @default { PULSE_SCRIPT: "/etc/xrdp/pulse/default.pa" } */
  readonly sessionVariables?: Readonly<Record<string, string>>;
}

/** Debian's Xorg command line for xorgxrdp sessions. */
export const defaultXorgParams: readonly string[] = Object.freeze([
  "/usr/lib/xorg/Xorg",
  "-config",
  "xrdp/xorg.conf",
  "-noreset",
  "-nolisten",
  "tcp",
  "-logfile",
  ".xorgxrdp.%s.log",
]);

/** Debian's Xvnc command line. */
export const defaultXvncParams: readonly string[] = Object.freeze([
  "Xvnc",
  "-bs",
  "-nolisten",
  "tcp",
  "-localhost",
  "-dpi",
  "96",
]);

/**
 * Renders the host's sesman.ini: [Globals], [Security], [Sessions], [Logging], [Xorg], [Xvnc],
 * [Chansrv], [ChansrvLogging] and [SessionVariables], with only keys xrdp-sesman 0.9.21 reads.
 *
 * Disconnected sessions: xorgxrdp enforces DisconnectedTimeLimit only when KillDisconnected is
 * set, so a limit renders KillDisconnected=true with that limit, and `killDisconnected` renders
 * a limit of 0 ("at once"; xorgxrdp waits at least 60 s).
 *
 * @throws IniValueError naming the first field whose value is not allowed.
 */
export function renderSesmanIni(input: SesmanIniInput): string {
  const s = input.settings;
  const logLevel = oneOf("log_level", input.logLevel ?? "INFO", logLevels);
  const kill = boolean("settings.kill_disconnected", s.killDisconnected) === "true";
  const disconnectedLimit = integer(
    "settings.disconnected_time_limit",
    s.disconnectedTimeLimitSec,
    0,
    604_800,
  );
  const v010 = (input.xrdpVersion ?? "0.9") === "0.10";
  const displayOffset = integer("x11_display_offset", input.x11DisplayOffset ?? 10, 1, 1000);
  const variables = Object.entries(
    input.sessionVariables ?? { PULSE_SCRIPT: "/etc/xrdp/pulse/default.pa" },
  );
  if (variables.length > 32) {
    throw new IniValueError("session_variables", "must hold at most 32 variables");
  }
  const sections: IniSection[] = [
    {
      name: "Globals",
      entries: [
        ...(v010
          ? ([["ListenPort", "sesman.socket"]] as IniEntry[])
          : ([
              [
                "ListenAddress",
                loopbackIpv4("listen_address", input.listenAddress ?? "127.0.0.1"),
                "listen_address",
              ],
              [
                "ListenPort",
                integer("listen_port", input.listenPort ?? 3350, 1, 65_535),
                "listen_port",
              ],
            ] as IniEntry[])),
        [
          "EnableUserWindowManager",
          boolean("enable_user_window_manager", input.enableUserWindowManager ?? true),
        ],
        [
          "UserWindowManager",
          fileName("user_window_manager", input.userWindowManager ?? "startwm.sh"),
        ],
        [
          "DefaultWindowManager",
          absolutePath(
            "default_window_manager",
            input.defaultWindowManager ?? "/etc/xrdp/startwm.sh",
          ),
        ],
        [
          "ReconnectScript",
          absolutePath("reconnect_script", input.reconnectScript ?? "/etc/xrdp/reconnectwm.sh"),
        ],
      ],
    },
    {
      name: "Security",
      entries: [
        [
          "AllowRootLogin",
          boolean("settings.allow_root_login", s.allowRootLogin),
          "settings.allow_root_login",
        ],
        ["MaxLoginRetry", integer("max_login_retry", input.maxLoginRetry ?? 3, 0, 100)],
        [
          "TerminalServerUsers",
          groupName("terminal_server_users", input.terminalServerUsers ?? "tsusers"),
        ],
        [
          "TerminalServerAdmins",
          groupName("terminal_server_admins", input.terminalServerAdmins ?? "tsadmins"),
        ],
        ["AlwaysGroupCheck", boolean("always_group_check", input.alwaysGroupCheck ?? false)],
        [
          "RestrictOutboundClipboard",
          clipboardRestriction("restrict_outbound_clipboard", input.restrictOutboundClipboard),
        ],
        [
          "RestrictInboundClipboard",
          clipboardRestriction("restrict_inbound_clipboard", input.restrictInboundClipboard),
        ],
      ],
    },
    {
      name: "Sessions",
      entries: [
        ["X11DisplayOffset", displayOffset, "x11_display_offset"],
        [
          "MaxSessions",
          integer("settings.max_sessions", s.maxSessions, 1, 1000),
          "settings.max_sessions",
        ],
        [
          "KillDisconnected",
          kill || disconnectedLimit !== "0" ? "true" : "false",
          "settings.kill_disconnected",
        ],
        [
          "DisconnectedTimeLimit",
          kill ? "0" : disconnectedLimit,
          "settings.disconnected_time_limit",
        ],
        [
          "IdleTimeLimit",
          integer("settings.idle_time_limit", s.idleTimeLimitSec, 0, 604_800),
          "settings.idle_time_limit",
        ],
        ["Policy", oneOf("policy", input.policy ?? "Default", sessionPolicies)],
        // 0.10 looks no further than this display (its default, 63, would cut the range short).
        ...(v010
          ? ([
              [
                "MaxDisplayNumber",
                String(
                  Number(displayOffset) +
                    Number(integer("settings.max_sessions", s.maxSessions, 1, 1000)),
                ),
                "settings.max_sessions",
              ],
            ] as IniEntry[])
          : []),
      ],
    },
    {
      name: "Logging",
      entries: [
        ["LogFile", absolutePath("log_file", input.logFile)],
        ["LogLevel", logLevel, "log_level"],
        ["EnableSyslog", "false"],
        ["EnableConsole", "true"],
        ["ConsoleLevel", logLevel, "log_level"],
      ],
    },
    {
      name: "Xorg",
      entries: commandLine("xorg_params", input.xorgParams ?? defaultXorgParams),
    },
    {
      name: "Xvnc",
      entries: commandLine("xvnc_params", input.xvncParams ?? defaultXvncParams),
    },
    {
      name: "Chansrv",
      entries: [
        ["FuseMountName", "thinclient_drives"],
        ["FileUmask", "077"],
      ],
    },
    {
      name: "ChansrvLogging",
      entries: [
        ["LogLevel", logLevel, "log_level"],
        ["EnableSyslog", "false"],
      ],
    },
    {
      name: "SessionVariables",
      entries: variables.map(([name, value]): IniEntry => {
        const field = "session_variables";
        return [
          envName(field, name),
          sessionVariableValue(`${field}.${envName(field, name)}`, value),
        ];
      }),
    },
  ];
  return renderIni(sections);
}

/**
 * Renders an xrdp.ini and writes it to `path` (absolute) by write-to-temp + rename, mode 0600.
 * The whole file is rendered and checked before the disk is touched.
 *
 * @throws IniValueError before anything is written.
 */
export async function writeXrdpIni(path: string, input: XrdpIniInput): Promise<void> {
  const target = absolutePath("config_path", path);
  const text = renderXrdpIni(input);
  await writeFileAtomic(target, text, 0o600);
}

/**
 * Renders a sesman.ini and writes it to `path` (absolute) by write-to-temp + rename, mode 0600.
 *
 * @throws IniValueError before anything is written.
 */
export async function writeSesmanIni(path: string, input: SesmanIniInput): Promise<void> {
  const target = absolutePath("config_path", path);
  const text = renderSesmanIni(input);
  await writeFileAtomic(target, text, 0o600);
}

// ---------------------------------------------------------------------------------------------
// Generic rendering with the last-line checks.

/** `[key, value, field]`; field defaults to the key for fixed values. */
type IniEntry = readonly [key: string, value: string, field?: string];

interface IniSection {
  readonly name: string;
  readonly entries: readonly IniEntry[];
}

/** Keys that may repeat within a section (ordered lists). */
const repeatableKeys = new Set(["param"]);
const sectionNamePattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const keyPattern = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;
/** Printable ASCII only: excludes CR, LF, NUL, TAB, DEL and everything non-ASCII. */
const printableAscii = /^[\x20-\x7e]*$/;
/** Characters xrdp's reader gives a meaning to, or that no value of ours needs. */
const forbiddenInValue = /[#;[\]=]/;

function renderIni(sections: readonly IniSection[]): string {
  const lines = ["; Generated by lucid-rdp xrdp-integration. Do not edit: it is rewritten."];
  const sectionNames = new Set<string>();
  for (const section of sections) {
    if (!sectionNamePattern.test(section.name)) {
      throw new IniValueError(`section ${section.name}`, "is not a valid section name");
    }
    // xrdp matches section names case-insensitively and reads the first match.
    const lowerSection = section.name.toLowerCase();
    if (sectionNames.has(lowerSection)) {
      throw new IniValueError(`section ${section.name}`, "appears twice");
    }
    sectionNames.add(lowerSection);
    lines.push("", `[${section.name}]`);
    const keys = new Set<string>();
    for (const [key, value, field = key] of section.entries) {
      const lowerKey = key.toLowerCase();
      if (keys.has(lowerKey) && !repeatableKeys.has(lowerKey)) {
        throw new IniValueError(field, `key ${key} appears twice in [${section.name}]`);
      }
      keys.add(lowerKey);
      lines.push(iniLine(field, key, value));
    }
  }
  const text = `${lines.join("\n")}\n`;
  if (Buffer.byteLength(text, "utf8") > maxIniFileBytes) {
    throw new IniValueError("file", `is larger than ${maxIniFileBytes} bytes; xrdp reads 32 KiB`);
  }
  return text;
}

/**
 * The generic last-line check every line passes at render time, whatever its field's allowlist
 * said (defence in depth): a key of letters, digits, `_` and `.`; a non-empty value of printable
 * ASCII without `#`, `;`, `[`, `]`, `=`, without a leading `$` and without leading or trailing
 * spaces; the whole line below 2048 bytes. Returns `key=value`.
 *
 * @throws IniValueError naming `field`.
 */
export function iniLine(field: string, key: string, value: string): string {
  if (typeof key !== "string" || !keyPattern.test(key)) {
    throw new IniValueError(field, "has an invalid key");
  }
  if (typeof value !== "string") {
    throw new IniValueError(field, "must be a string");
  }
  if (value === "") {
    throw new IniValueError(field, "must not be empty");
  }
  if (!printableAscii.test(value)) {
    throw new IniValueError(
      field,
      "must be printable ASCII (no CR, LF, NUL, tab or non-ASCII characters)",
    );
  }
  if (forbiddenInValue.test(value)) {
    throw new IniValueError(field, "must not contain #, ;, [, ] or =");
  }
  if (value.startsWith("$")) {
    throw new IniValueError(
      field,
      "must not start with $ (xrdp reads it as an environment variable)",
    );
  }
  if (value !== value.trim()) {
    throw new IniValueError(field, "must not start or end with a space");
  }
  const line = `${key}=${value}`;
  const bytes = Buffer.byteLength(line, "utf8");
  if (bytes > maxIniLineBytes) {
    throw new IniValueError(
      field,
      `makes a line of ${bytes} bytes; xrdp stops reading at ${maxIniLineBytes + 1}`,
    );
  }
  return line;
}

// ---------------------------------------------------------------------------------------------
// Per-field allowlists. Each checks the type and the exact form, and returns the INI text.

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const absolutePathPattern = /^\/[A-Za-z0-9._/-]+$/;
const ipv4Octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
/** Dotted quad without leading zeros (inet_aton would read `010` as octal). */
const ipv4Pattern = new RegExp(`^${ipv4Octet}(\\.${ipv4Octet}){3}$`);
/**
 * An OpenSSL TLS 1.2 cipher suite name: upper-case words joined by `-`, at least two words, so
 * cipher-string keywords (`ALL`, `HIGH`, `DEFAULT`), operators (`!`, `+`, `@`) and separators
 * (`:`, `,`, space) cannot be passed as a "name".
 */
const cipherNamePattern = /^[A-Z0-9]+(-[A-Z0-9]+)+$/;
/** Never acceptable in a cipher suite, whatever a floor says. */
const weakCipherParts = /NULL|EXP|ADH|AECDH|RC4|DES|MD5|PSK|SRP|ANON/;
const groupNamePattern = /^[a-z_][a-z0-9_-]{0,31}$/;
const fileNamePattern = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;
const envNamePattern = /^[A-Z_][A-Z0-9_]{0,63}$/;
const commandArgPattern = /^[A-Za-z0-9._/%+,:-]{1,255}$/;

function uuid(field: string, value: unknown): string {
  if (typeof value !== "string" || !uuidPattern.test(value)) {
    throw new IniValueError(field, "must be a lowercase UUID");
  }
  return value;
}

function absolutePath(field: string, value: unknown): string {
  if (
    typeof value !== "string" ||
    value.length > 255 ||
    !absolutePathPattern.test(value) ||
    value.includes("..")
  ) {
    throw new IniValueError(
      field,
      "must be an absolute path of at most 255 letters, digits and ._/- without ..",
    );
  }
  return value;
}

function fileName(field: string, value: unknown): string {
  if (typeof value !== "string" || !fileNamePattern.test(value) || value.includes("..")) {
    throw new IniValueError(field, "must be a file name of letters, digits and ._- without ..");
  }
  return value;
}

function ipv4(field: string, value: unknown): string {
  if (typeof value !== "string" || !ipv4Pattern.test(value)) {
    throw new IniValueError(field, "must be an IPv4 address in dotted-quad form");
  }
  return value;
}

function integer(field: string, value: unknown, min: number, max: number): string {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new IniValueError(field, `must be an integer from ${min} to ${max}`);
  }
  return String(value);
}

function boolean(field: string, value: unknown): string {
  if (typeof value !== "boolean") {
    throw new IniValueError(field, "must be a boolean");
  }
  return value ? "true" : "false";
}

function oneOf<T extends string | number>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new IniValueError(field, `must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function list<T>(field: string, value: unknown, min: number, max: number): readonly T[] {
  if (!Array.isArray(value) || value.length < min || value.length > max) {
    throw new IniValueError(field, `must be a list of ${min} to ${max} items`);
  }
  if (new Set(value).size !== value.length) {
    throw new IniValueError(field, "must not repeat an item");
  }
  return value as T[];
}

function tlsProtocolList(field: string, value: unknown): string {
  const items = list<string>(field, value, 1, tlsProtocols.length);
  items.forEach((item, i) => {
    oneOf(`${field}[${i}]`, item, tlsProtocols);
  });
  return tlsProtocols.filter((p) => items.includes(p)).join(", ");
}

function cipherList(field: string, value: unknown): string {
  const items = list<unknown>(field, value, 1, maxCipherCount);
  items.forEach((item, i) => {
    if (typeof item !== "string" || item.length > 64 || !cipherNamePattern.test(item)) {
      throw new IniValueError(
        `${field}[${i}]`,
        "must be an OpenSSL TLS 1.2 cipher suite name (upper-case words joined by -)",
      );
    }
    if (weakCipherParts.test(item)) {
      throw new IniValueError(`${field}[${i}]`, "names a cipher suite that is never allowed");
    }
  });
  return items.join(":");
}

/** A local account name: POSIX portable, as useradd accepts by default. */
const accountNamePattern = /^[a-z_][a-z0-9_-]{0,31}$/;

function accountName(field: string, value: unknown): string {
  if (typeof value !== "string" || !accountNamePattern.test(value)) {
    throw new IniValueError(field, "must be a local account name (a-z, 0-9, _ and -, 32 at most)");
  }
  // xrdp reads any value that begins with "ask" as "ask the client" (xrdp_login_wnd.c,
  // xrdp_wm.c): such an account would let the client choose the user.
  if (value.startsWith("ask")) {
    throw new IniValueError(field, 'must not begin with "ask", which xrdp reads as a prompt');
  }
  return value;
}

function loopbackIpv4(field: string, value: unknown): string {
  const v = ipv4(field, value);
  if (!v.startsWith("127.")) throw new IniValueError(field, "must be a loopback address");
  return v;
}

function groupName(field: string, value: unknown): string {
  if (typeof value !== "string" || !groupNamePattern.test(value)) {
    throw new IniValueError(field, "must be a POSIX group name");
  }
  return value;
}

function clipboardRestriction(field: string, value: unknown): string {
  const items = list<string>(field, value ?? ["none"], 1, 3);
  items.forEach((item, i) => {
    oneOf(`${field}[${i}]`, item, clipboardKinds);
  });
  if (items.length > 1 && (items.includes("none") || items.includes("all"))) {
    throw new IniValueError(field, "none and all must stand alone");
  }
  return items.join(",");
}

function commandLine(field: string, value: unknown): IniEntry[] {
  const items = Array.isArray(value) ? value : undefined;
  if (items === undefined || items.length < 1 || items.length > 32) {
    throw new IniValueError(field, "must be a list of 1 to 32 arguments");
  }
  return items.map((item: unknown, i): IniEntry => {
    if (typeof item !== "string" || !commandArgPattern.test(item) || item.includes("..")) {
      throw new IniValueError(
        `${field}[${i}]`,
        "must be an argument of letters, digits and ._/%+,:- without ..",
      );
    }
    return ["param", item, `${field}[${i}]`];
  });
}

function envName(field: string, value: string): string {
  if (!envNamePattern.test(value)) {
    throw new IniValueError(field, "names must be upper-case environment variable names");
  }
  return value;
}

function sessionVariableValue(field: string, value: unknown): string {
  if (typeof value !== "string" || !commandArgPattern.test(value) || value.includes("..")) {
    throw new IniValueError(field, "must be letters, digits and ._/%+,:- without ..");
  }
  return value;
}
