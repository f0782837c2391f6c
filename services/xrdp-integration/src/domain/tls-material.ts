/**
 * Per-instance TLS material, the pure part: what it is, the checks on what a certificate is asked
 * for, the arguments openssl signs it with, and fingerprints. host/tls-material-files.ts writes it.
 */
import { type KeyObject, X509Certificate } from "node:crypto";

/** The certificate and key of an instance. */
export interface TlsMaterial {
  /** Absolute path of the PEM certificate (0644). */
  readonly certPath: string;
  /** Absolute path of the PEM private key (0600). */
  readonly keyPath: string;
  /** SHA-256 fingerprint of the certificate (DER), lowercase hex without separators. */
  readonly sha256: string;
}

/**
 * Thrown when an instance's TLS material cannot be created or used (bad common name, unsafe
 * directory, openssl missing or failing).
 */
export class TlsMaterialError extends Error {
  override readonly name = "TlsMaterialError";
  constructor(
    readonly dir: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const hostNamePattern =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/;
const ipv4Pattern =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

/** The size of every instance key, generated here or ahead of time. */
export const instanceKeyBits = 3072;

/** True for a private key of the kind `generateInstanceKey` makes. */
export function isInstanceKey(key: KeyObject): boolean {
  return (
    key.type === "private" &&
    key.asymmetricKeyType === "rsa" &&
    key.asymmetricKeyDetails?.modulusLength === instanceKeyBits
  );
}

/**
 * Checks what a certificate for the material in `dir` is asked for: the common name is a host
 * name (at most 64 characters) or an IPv4 address, the validity 1 to 3650 days.
 * @throws TlsMaterialError
 */
export function checkCertificateRequest(
  dir: string,
  commonName: string,
  validityDays: number,
): { commonName: string; validityDays: number } {
  if (
    typeof commonName !== "string" ||
    commonName.length > 64 ||
    !(hostNamePattern.test(commonName) || ipv4Pattern.test(commonName))
  ) {
    throw new TlsMaterialError(dir, "commonName must be a host name or an IPv4 address");
  }
  if (!Number.isSafeInteger(validityDays) || validityDays < 1 || validityDays > 3650) {
    throw new TlsMaterialError(dir, "validityDays must be an integer from 1 to 3650");
  }
  return { commonName, validityDays };
}

/** The files and values of one `openssl req -x509` run. */
export interface CertificateRequest {
  /** openssl's config file (a minimal one of our own). */
  readonly config: string;
  /** The PEM private key file. */
  readonly key: string;
  /** A common name {@link checkCertificateRequest} accepted. */
  readonly commonName: string;
  readonly validityDays: number;
  /** Where openssl writes the certificate. */
  readonly out: string;
}

/** The arguments of `openssl` that sign a self-signed server certificate for `req`. */
export function certificateRequestArgs(req: CertificateRequest): string[] {
  const altName = ipv4Pattern.test(req.commonName)
    ? `IP:${req.commonName}`
    : `DNS:${req.commonName}`;
  return [
    "req",
    "-x509",
    "-new",
    "-batch",
    "-config",
    req.config,
    "-key",
    req.key,
    "-sha256",
    "-days",
    String(req.validityDays),
    "-subj",
    `/CN=${req.commonName}`,
    "-addext",
    `subjectAltName=${altName}`,
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "-addext",
    "extendedKeyUsage=serverAuth",
    "-out",
    req.out,
  ];
}

/** SHA-256 fingerprint of a PEM certificate, lowercase hex without separators. */
export function certificateSha256(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();
}
