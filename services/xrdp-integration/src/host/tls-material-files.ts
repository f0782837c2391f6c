/**
 * Per-instance TLS material on disk: a self-signed certificate and its private key, generated once
 * and reused. The pure part (checks, openssl's arguments, fingerprints) is domain/tls-material.ts.
 *
 * Node can create keys (node:crypto generateKeyPair) and parse certificates (X509Certificate) but
 * has no X.509 writer, so the certificate is signed by the `openssl` binary (a dependency of
 * Debian's xrdp package), run with execFile and an argument array: no shell, and the only
 * caller-supplied value on its command line, the common name, is checked against a hostname
 * pattern first.
 */
import { execFile } from "node:child_process";
import { createPrivateKey, generateKeyPair, type KeyObject, X509Certificate } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  certificateRequestArgs,
  certificateSha256,
  checkCertificateRequest,
  instanceKeyBits,
  isInstanceKey,
  type TlsMaterial,
  TlsMaterialError,
} from "../domain/tls-material.js";
import { writeFileAtomic } from "./write-file-atomic.js";

const run = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

/** Options of {@link ensureTlsMaterial}. */
export interface TlsMaterialOptions {
  /**
   * The certificate's subject CN and DNS subjectAltName: a host name (letters, digits, `.` and
   * `-`, at most 64 characters) or an IPv4 address.
   */
  readonly commonName: string;
  /**
   * The openssl binary.
   * @default "openssl" (looked up on PATH)
   */
  readonly openssl?: string;
  /**
   * Validity of a new certificate, in days (1 to 3650).
   * @default 365
   */
  readonly validityDays?: number;
  /**
   * Existing material is replaced when it expires within this many days.
   * @default 7
   */
  readonly renewBeforeDays?: number;
  /** Aborts the openssl run. */
  readonly signal?: AbortSignal;
  /**
   * Where the key of new material comes from first, e.g. a pool of keys generated ahead of time
   * (an RSA-3072 key takes most of a second): a key it returns must be handed to no one else, and
   * is used only for this material (or dropped if creating it fails). When it returns undefined,
   * the key is generated here. Not called when the existing material is kept.
   * @default () => undefined
   */
  readonly takeKey?: () => KeyObject | undefined;
}

const certFileName = "cert.pem";
const keyFileName = "key.pem";
const dayMs = 86_400_000;

/**
 * Generates an instance's private key (RSA 3072). node:crypto runs the prime search on libuv's
 * thread pool, so the event loop stays free while it runs.
 */
export async function generateInstanceKey(): Promise<KeyObject> {
  const { privateKey } = (await generateKeyPairAsync("rsa", {
    modulusLength: instanceKeyBits,
  })) as { privateKey: KeyObject };
  return privateKey;
}

/** Runs in progress per directory, so concurrent calls for one instance share one generation. */
const inFlight = new Map<string, Promise<TlsMaterial>>();

/**
 * Returns the certificate and key in `dir` (`cert.pem`, `key.pem`), generating them when absent,
 * unreadable as a matching pair, issued for another common name, expiring within
 * `renewBeforeDays`, or when the key's mode lets anyone but the owner read it (it may have leaked).
 *
 * `dir` is created with mode 0700 (and set to 0700 if it exists). New files are written by
 * write-to-temp + rename: the key (RSA 3072, PKCS#8; from `takeKey` when it has one) with mode
 * 0600, the certificate 0644.
 *
 * @throws TlsMaterialError
 */
export function ensureTlsMaterial(dir: string, options: TlsMaterialOptions): Promise<TlsMaterial> {
  const key = resolve(dir);
  const running = inFlight.get(key);
  if (running !== undefined) return running;
  const promise = ensure(key, options).finally(() => inFlight.delete(key));
  inFlight.set(key, promise);
  return promise;
}

async function ensure(dir: string, options: TlsMaterialOptions): Promise<TlsMaterial> {
  const { commonName, validityDays } = checkCertificateRequest(
    dir,
    options.commonName,
    options.validityDays ?? 365,
  );
  const renewBeforeDays = options.renewBeforeDays ?? 7;

  await ensurePrivateDirectory(dir);
  const certPath = join(dir, certFileName);
  const keyPath = join(dir, keyFileName);

  const existing = await readExisting(certPath, keyPath, commonName, renewBeforeDays);
  if (existing !== undefined) {
    return { certPath, keyPath, sha256: certificateSha256(existing) };
  }

  const certificate = await generate(dir, commonName, validityDays, options);
  return { certPath, keyPath, sha256: certificateSha256(certificate) };
}

/** Creates `dir` (and missing parents) with mode 0700, refuses a symlink, and sets 0700. */
async function ensurePrivateDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const stat = await lstat(dir);
    if (!stat.isDirectory()) {
      throw new TlsMaterialError(dir, "the TLS directory is not a directory (or is a symlink)");
    }
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) {
      throw new TlsMaterialError(dir, "the TLS directory belongs to another user");
    }
    await chmod(dir, 0o700);
  } catch (error) {
    if (error instanceof TlsMaterialError) throw error;
    throw new TlsMaterialError(dir, "cannot create the TLS directory", { cause: error });
  }
}

/**
 * The existing certificate's PEM when cert and key exist as regular files, the key is private to
 * its owner, they match, the certificate is for `commonName` and not about to expire; undefined
 * when the material must be (re)generated.
 */
async function readExisting(
  certPath: string,
  keyPath: string,
  commonName: string,
  renewBeforeDays: number,
): Promise<string | undefined> {
  try {
    const [certStat, keyStat] = await Promise.all([lstat(certPath), lstat(keyPath)]);
    if (!certStat.isFile() || !keyStat.isFile() || (keyStat.mode & 0o077) !== 0) {
      return undefined;
    }
    const [certPem, keyPem] = await Promise.all([
      readFile(certPath, "utf8"),
      readFile(keyPath, "utf8"),
    ]);
    const cert = new X509Certificate(certPem);
    const privateKey = createPrivateKey(keyPem);
    if (!cert.checkPrivateKey(privateKey)) return undefined;
    if (cert.subject !== `CN=${commonName}`) return undefined;
    if (Date.parse(cert.validTo) - Date.now() < renewBeforeDays * dayMs) return undefined;
    return certPem;
  } catch {
    // Missing, unreadable or unparsable: generate anew.
    return undefined;
  }
}

async function generate(
  dir: string,
  commonName: string,
  validityDays: number,
  options: TlsMaterialOptions,
): Promise<string> {
  const taken = options.takeKey?.();
  if (taken !== undefined && !isInstanceKey(taken)) {
    throw new TlsMaterialError(dir, `the key given is not an RSA-${instanceKeyBits} private key`);
  }
  const privateKey = taken ?? (await generateInstanceKey());
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;

  // openssl reads the key from a private scratch directory (mkdtemp: 0700) inside `dir`.
  const scratch = await mkdtemp(join(dir, ".gen-"));
  try {
    const scratchKey = join(scratch, "key.pem");
    const config = join(scratch, "req.cnf");
    const certOut = join(scratch, "cert.pem");
    await writeNew(scratchKey, keyPem, 0o600);
    // A minimal config of our own, so the host's openssl.cnf adds nothing; no caller data in it.
    await writeNew(config, "[req]\ndistinguished_name = dn\n[dn]\n", 0o600);
    const args = certificateRequestArgs({
      config,
      key: scratchKey,
      commonName,
      validityDays,
      out: certOut,
    });
    try {
      await run(options.openssl ?? "openssl", args, {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        timeout: 60_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      throw new TlsMaterialError(dir, "openssl could not create the certificate", { cause: error });
    }
    const certPem = await readFile(certOut, "utf8");
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(privateKey)) {
      throw new TlsMaterialError(dir, "openssl produced a certificate for another key");
    }
    // Key first: a crash between the two renames leaves a mismatched pair, which the next call
    // detects and regenerates.
    await writeFileAtomic(join(dir, keyFileName), keyPem, 0o600);
    await writeFileAtomic(join(dir, certFileName), certPem, 0o644);
    return certPem;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Creates a new file (never follows or replaces an existing one) with exactly `mode`. */
async function writeNew(path: string, data: string, mode: number): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    await handle.chmod(mode);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}
