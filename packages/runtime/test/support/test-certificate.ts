/** A throwaway TLS certificate for the runtime's TLS tests. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool } from "@lucid-rdp/testing";

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl. */
export function testCertificate(): { cert: string; key: string; ca: Buffer } {
  const openssl = findTool("openssl", "apt-get install -y openssl");
  if (openssl === undefined) throw new Error("openssl is needed to make the test certificate");
  const dir = mkdtempSync(join(tmpdir(), "tls-"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync(openssl, [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  ]);
  return { cert, key, ca: readFileSync(cert) };
}
