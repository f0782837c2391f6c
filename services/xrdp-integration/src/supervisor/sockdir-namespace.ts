/**
 * xrdp 0.10 finds its sesman only at `<socket dir>/sesman.socket`, the socket directory compiled in
 * (Debian: /run/xrdp/sockdir), whatever xrdp.ini or sesman.ini say (xrdp_mm.c
 * xrdp_mm_get_sesman_port ignores every ListenPort that is not a number, and then any number).
 * One sesman per instance therefore needs one socket directory per instance: the instance's xrdp
 * and sesman each run in a private mount namespace where the instance's own directory is bound
 * over the compiled-in one. Their children (sesexec, Xorg, chansrv, the desktop) inherit it.
 *
 * The namespace is made by util-linux's `unshare` and a fixed `sh` script; every path and argument
 * reaches `sh` as a positional parameter ("$0", "$@"), never as part of the script, so nothing
 * is interpolated. It needs CAP_SYS_ADMIN (mount).
 */

/** Debian's xrdp socket directory (`--with-socketdir`). */
export const xrdpSocketDir = "/run/xrdp/sockdir";

const script = `mount --bind "$0" ${xrdpSocketDir} && exec "$@"`;

export interface SockdirNamespace {
  /** @default "/usr/bin/unshare" */
  readonly unshareBin?: string;
  /** @default "/bin/sh" */
  readonly shBin?: string;
}

/** The command that runs `bin args` with `sockdir` bound over the socket directory. */
export function inSockdirNamespace(
  ns: SockdirNamespace,
  sockdir: string,
  bin: string,
  args: readonly string[],
): { bin: string; args: string[] } {
  return {
    bin: ns.unshareBin ?? "/usr/bin/unshare",
    args: [
      "--mount",
      "--propagation",
      "private",
      "--",
      ns.shBin ?? "/bin/sh",
      "-c",
      script,
      sockdir,
      bin,
      ...args,
    ],
  };
}

/** The xrdp version's major.minor from `xrdp --version` text ("xrdp 0.10.1"), or undefined. */
export function xrdpSeries(version: string | undefined): "0.9" | "0.10" | undefined {
  const m = /(\d+)\.(\d+)\.\d+/.exec(version ?? "");
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 0 && minor <= 9) return "0.9";
  return "0.10";
}
