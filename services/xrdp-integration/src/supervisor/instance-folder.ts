/**
 * An instance's folder, made before its record is stored: `xrdp-<id>.ini` and, unless a
 * certificate is given, `tls/{cert,key}.pem`. Complete once written, so that whatever happens
 * after (a crash, a lost insert answer) the instance can be started from it later.
 */
import type { KeyObject } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type InstancePaths, instancePaths } from "../domain/instance-paths.js";
import { certificateSha256 } from "../domain/tls-material.js";
import { renderXrdpIni } from "../domain/xrdp-ini.js";
import type { EffectiveSettings } from "../domain/xrdp-settings.js";
import { ensureTlsMaterial } from "../host/tls-material-files.js";
import { writeFileAtomic } from "../host/write-file-atomic.js";

export interface FolderInput {
  readonly stateDir: string;
  readonly id: string;
  readonly listenAddress: string;
  readonly port: number;
  /** Absent for a warm instance: its xrdp.ini admits no one until the hand-out. */
  readonly owner?: string;
  readonly effective: EffectiveSettings;
  /** The service's certificate for every instance (XRDP_TLS_CERT/KEY). */
  readonly tls?: { readonly certPath: string; readonly keyPath: string };
  /** The sesman xrdp logs in through. @default 127.0.0.1 (the host's) */
  readonly sesmanAddress?: string;
}

/** What will be written, rendered: nothing is written yet. */
export interface FolderPlan {
  readonly id: string;
  readonly paths: InstancePaths;
  /** The effective settings with the certificate and key paths in force. */
  readonly settings: EffectiveSettings;
  readonly ini: string;
  /** A certificate given rather than generated. */
  readonly given?: { readonly certPath: string; readonly keyPath: string };
}

/**
 * Renders the folder's config. A value xrdp's INI cannot carry safely throws here (IniValueError),
 * before any file exists.
 */
export function planInstanceFolder(input: FolderInput): FolderPlan {
  const paths = instancePaths(input.stateDir, input.id);
  const e = input.effective;
  // Certificate and key: the request's (checked against the floor), the service's, or generated.
  const given =
    e.tlsCertPath !== "" && e.tlsKeyPath !== ""
      ? { certPath: e.tlsCertPath, keyPath: e.tlsKeyPath }
      : input.tls;
  const settings: EffectiveSettings = {
    ...e,
    tlsCertPath: given?.certPath ?? join(paths.tlsDir, "cert.pem"),
    tlsKeyPath: given?.keyPath ?? join(paths.tlsDir, "key.pem"),
  };
  const ini = renderXrdpIni({
    instanceId: input.id,
    instanceDir: paths.dir,
    listenAddress: input.listenAddress,
    port: input.port,
    settings,
    owner: input.owner,
    sesmanAddress: input.sesmanAddress ?? "127.0.0.1",
  });
  return { id: input.id, paths, settings, ini, given };
}

/**
 * Writes the folder (0700), its TLS material (kept if already there and valid) and its config;
 * returns the certificate's SHA-256.
 */
export async function writeInstanceFolder(
  plan: FolderPlan,
  takeKey: () => KeyObject | undefined,
): Promise<string> {
  await mkdir(plan.paths.dir, { recursive: true, mode: 0o700 });
  const sha256 = plan.given
    ? certificateSha256(await readFile(plan.given.certPath))
    : (
        await ensureTlsMaterial(plan.paths.tlsDir, {
          commonName: `lucid-xrdp-${plan.id}`,
          takeKey,
        })
      ).sha256;
  await writeFileAtomic(plan.paths.xrdpIni, plan.ini, 0o600);
  return sha256;
}
