/**
 * The xrdp.ini renderer: an instance's [Globals], [Logging], [Channels] and one section per
 * session type, with only keys xrdp 0.9.21 reads. Every value passes its field's allowlist
 * (./value-checks.ts), anything else throws IniValueError naming the field, and every line passes
 * the INI writer's last check (./ini-format.ts). Rendering is pure; host/ini-files.ts's `writeXrdpIni` renders
 * completely before touching the disk, so a rejected value never reaches a file.
 */
import { join } from "node:path";
import { type IniEntry, type IniSection, IniValueError, renderIni } from "./ini-format.js";
import { type IniLogLevel, iniLogLevels } from "./ini-log-level.js";
import { ValueChecks } from "./value-checks.js";
import {
  cryptLevels,
  type EffectiveSettings,
  maxBppValues,
  maxCipherCount,
  securityLayers,
  tlsProtocols,
} from "./xrdp-settings.js";

const check = new ValueChecks(IniValueError);

/** A session type of xrdp.ini (a section of the login screen's list). */
export type SessionType = "Xorg" | "Xvnc";

const sessionTypes: readonly SessionType[] = ["Xorg", "Xvnc"];

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
   * account's password opens a desktop. Absent for a warm instance (not handed out yet): no
   * session section at all, so no account can log in. xrdp reads this file again for every
   * connection (xrdp_wm_login_fill_in_combo in xrdp_login_wnd.c, 0.9.21 and 0.10.1), so the hand-out
   * rewrites it with the owner and every later connection sees only that owner.
   */
  readonly owner?: string;
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
  const id = check.uuid("instance_id", input.instanceId);
  const dir = check.absolutePath("instance_dir", input.instanceDir);
  const logLevel = check.oneOf("log_level", input.logLevel ?? "INFO", iniLogLevels);
  const types = check.distinct(
    "session_types",
    check.list<SessionType>(
      "session_types",
      input.sessionTypes ?? ["Xorg"],
      1,
      sessionTypes.length,
    ),
  );
  const owner = input.owner === undefined ? undefined : check.accountName("owner", input.owner);
  const sesmanAddress = check.loopbackIpv4("sesman_address", input.sesmanAddress);
  const sections: IniSection[] = [
    {
      // Security-relevant keys first.
      name: "Globals",
      entries: [
        ["ini_version", "1", "ini_version"],
        [
          "security_layer",
          check.oneOf("settings.security_layer", s.securityLayer, securityLayers),
          "settings.security_layer",
        ],
        [
          "crypt_level",
          check.oneOf("settings.crypt_level", s.cryptLevel, cryptLevels),
          "settings.crypt_level",
        ],
        [
          "certificate",
          check.absolutePath("settings.tls_cert_path", s.tlsCertPath),
          "settings.tls_cert_path",
        ],
        [
          "key_file",
          check.absolutePath("settings.tls_key_path", s.tlsKeyPath),
          "settings.tls_key_path",
        ],
        [
          "ssl_protocols",
          tlsProtocolList("settings.tls_protocols", s.tlsProtocols),
          "settings.tls_protocols",
        ],
        ["tls_ciphers", cipherList("settings.tls_ciphers", s.tlsCiphers), "settings.tls_ciphers"],
        ["fork", "true"],
        [
          "port",
          `tcp://${check.ipv4("listen_address", input.listenAddress)}:${check.integer("port", input.port, 1, 65_535)}`,
          "port",
        ],
        ["use_vsock", "false"],
        ["tcp_nodelay", "true"],
        ["tcp_keepalive", "true"],
        ["allow_channels", "true"],
        [
          "allow_multimon",
          String(check.boolean("settings.allow_multimon", s.allowMultimon)),
          "settings.allow_multimon",
        ],
        [
          "max_bpp",
          String(check.oneOf("settings.max_bpp", s.maxBpp, maxBppValues)),
          "settings.max_bpp",
        ],
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
        ["LogFile", check.absolutePath("log_file", join(dir, `xrdp-${id}.log`)), "log_file"],
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
          String(check.boolean("settings.drive_redirection", s.driveRedirection)),
          "settings.drive_redirection",
        ],
        ["rdpsnd", String(check.boolean("settings.audio", s.audio)), "settings.audio"],
        ["cliprdr", String(check.boolean("settings.clipboard", s.clipboard)), "settings.clipboard"],
        ["drdynvc", "true"],
        ["rail", "false"],
        ["xrdpvr", "false"],
        ["tcutils", "false"],
      ],
    },
    ...(owner === undefined
      ? []
      : types.map((type, i) => sessionSection(`session_types[${i}]`, type, owner, sesmanAddress))),
  ];
  return renderIni(sections);
}

function sessionSection(
  field: string,
  type: SessionType,
  owner: string,
  sesmanAddress: string,
): IniSection {
  check.oneOf(field, type, sessionTypes);
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

/** `ssl_protocols`: distinct known versions, written oldest first. */
function tlsProtocolList(field: string, value: unknown): string {
  const items = check.distinct(field, check.list<string>(field, value, 1, tlsProtocols.length));
  items.forEach((item, i) => {
    check.oneOf(`${field}[${i}]`, item, tlsProtocols);
  });
  return tlsProtocols.filter((p) => items.includes(p)).join(", ");
}

/** `tls_ciphers`: distinct cipher suite names joined by `:` (OpenSSL's list separator). */
function cipherList(field: string, value: unknown): string {
  const items = check.distinct(field, check.list<unknown>(field, value, 1, maxCipherCount));
  items.forEach((item, i) => {
    check.cipherSuite(`${field}[${i}]`, item);
  });
  return items.join(":");
}
