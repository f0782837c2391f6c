/**
 * The sesman.ini renderer: an xrdp-sesman's [Globals], [Security], [Sessions], [Logging], [Xorg],
 * [Xvnc], [Chansrv], [ChansrvLogging] and [SessionVariables], with only keys xrdp-sesman 0.9.21
 * reads (and the 0.10 variants). Every value passes its allowlist (./value-checks.ts), every line
 * the INI writer's last check (./ini-format.ts). Rendering is pure; host/ini-files.ts's `writeSesmanIni` renders
 * completely before touching the disk, so a rejected value never reaches a file.
 */

import { type IniEntry, type IniSection, IniValueError, renderIni } from "./ini-format.js";
import { type IniLogLevel, iniLogLevels } from "./ini-log-level.js";
import { ValueChecks } from "./value-checks.js";
import { type EffectiveSettings, maxTimeLimitSec } from "./xrdp-settings.js";

const check = new ValueChecks(IniValueError);

/** sesman's session allocation policy. */
export type SessionPolicy = "Default" | "UBD" | "UBI" | "UBC" | "UBDI" | "UBDC";
/** A clipboard direction restriction of sesman (`none`, `all`, or a list of kinds). */
export type ClipboardRestriction = "none" | "all" | "text" | "file" | "image";

const sessionPolicies: readonly SessionPolicy[] = ["Default", "UBD", "UBI", "UBC", "UBDI", "UBDC"];
const clipboardKinds: readonly ClipboardRestriction[] = ["none", "all", "text", "file", "image"];

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
  const logLevel = check.oneOf("log_level", input.logLevel ?? "INFO", iniLogLevels);
  const kill = check.boolean("settings.kill_disconnected", s.killDisconnected);
  const disconnectedLimit = check.integer(
    "settings.disconnected_time_limit",
    s.disconnectedTimeLimitSec,
    0,
    maxTimeLimitSec,
  );
  const v010 = (input.xrdpVersion ?? "0.9") === "0.10";
  const displayOffset = check.integer("x11_display_offset", input.x11DisplayOffset ?? 10, 1, 1000);
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
                check.loopbackIpv4("listen_address", input.listenAddress ?? "127.0.0.1"),
                "listen_address",
              ],
              [
                "ListenPort",
                String(check.integer("listen_port", input.listenPort ?? 3350, 1, 65_535)),
                "listen_port",
              ],
            ] as IniEntry[])),
        [
          "EnableUserWindowManager",
          String(
            check.boolean("enable_user_window_manager", input.enableUserWindowManager ?? true),
          ),
        ],
        [
          "UserWindowManager",
          check.fileName("user_window_manager", input.userWindowManager ?? "startwm.sh"),
        ],
        [
          "DefaultWindowManager",
          check.absolutePath(
            "default_window_manager",
            input.defaultWindowManager ?? "/etc/xrdp/startwm.sh",
          ),
        ],
        [
          "ReconnectScript",
          check.absolutePath(
            "reconnect_script",
            input.reconnectScript ?? "/etc/xrdp/reconnectwm.sh",
          ),
        ],
      ],
    },
    {
      name: "Security",
      entries: [
        [
          "AllowRootLogin",
          String(check.boolean("settings.allow_root_login", s.allowRootLogin)),
          "settings.allow_root_login",
        ],
        [
          "MaxLoginRetry",
          String(check.integer("max_login_retry", input.maxLoginRetry ?? 3, 0, 100)),
        ],
        [
          "TerminalServerUsers",
          check.groupName("terminal_server_users", input.terminalServerUsers ?? "tsusers"),
        ],
        [
          "TerminalServerAdmins",
          check.groupName("terminal_server_admins", input.terminalServerAdmins ?? "tsadmins"),
        ],
        [
          "AlwaysGroupCheck",
          String(check.boolean("always_group_check", input.alwaysGroupCheck ?? false)),
        ],
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
        ["X11DisplayOffset", String(displayOffset), "x11_display_offset"],
        [
          "MaxSessions",
          String(check.integer("settings.max_sessions", s.maxSessions, 1, 1000)),
          "settings.max_sessions",
        ],
        [
          "KillDisconnected",
          kill || disconnectedLimit !== 0 ? "true" : "false",
          "settings.kill_disconnected",
        ],
        [
          "DisconnectedTimeLimit",
          kill ? "0" : String(disconnectedLimit),
          "settings.disconnected_time_limit",
        ],
        [
          "IdleTimeLimit",
          String(check.integer("settings.idle_time_limit", s.idleTimeLimitSec, 0, maxTimeLimitSec)),
          "settings.idle_time_limit",
        ],
        ["Policy", check.oneOf("policy", input.policy ?? "Default", sessionPolicies)],
        // 0.10 looks no further than this display (its default, 63, would cut the range short).
        ...(v010
          ? ([
              [
                "MaxDisplayNumber",
                String(
                  displayOffset + check.integer("settings.max_sessions", s.maxSessions, 1, 1000),
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
        ["LogFile", check.absolutePath("log_file", input.logFile)],
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
          check.envName(field, name),
          check.envValue(`${field}.${check.envName(field, name)}`, value),
        ];
      }),
    },
  ];
  return renderIni(sections);
}

function clipboardRestriction(field: string, value: unknown): string {
  const items = check.distinct(field, check.list<string>(field, value ?? ["none"], 1, 3));
  items.forEach((item, i) => {
    check.oneOf(`${field}[${i}]`, item, clipboardKinds);
  });
  if (items.length > 1 && (items.includes("none") || items.includes("all"))) {
    throw new IniValueError(field, "none and all must stand alone");
  }
  return items.join(",");
}

/** A command line as `param` lines, binary first (no check for repeats: arguments may repeat). */
function commandLine(field: string, value: unknown): IniEntry[] {
  const items = Array.isArray(value) ? value : undefined;
  if (items === undefined || items.length < 1 || items.length > 32) {
    throw new IniValueError(field, "must be a list of 1 to 32 arguments");
  }
  return items.map(
    (item: unknown, i): IniEntry => [
      "param",
      check.commandArg(`${field}[${i}]`, item),
      `${field}[${i}]`,
    ],
  );
}
