import { execFile } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findTool, reportMissingTool } from "@lucid-rdp/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  certificateSha256,
  instanceKeyBits,
  isInstanceKey,
  TlsMaterialError,
} from "../src/domain/tls-material.js";
import { ensureTlsMaterial, generateInstanceKey } from "../src/host/tls-material-files.js";
import { writeFileAtomic } from "../src/host/write-file-atomic.js";

const run = promisify(execFile);
const install = "apt-get install -y openssl";
const openssl = findTool("openssl", install);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "tls-material-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function needOpenssl(ctx: { skip: () => void; task: { name: string } }): string {
  if (openssl === undefined) {
    reportMissingTool("openssl", install, ctx.task.name);
    ctx.skip();
    throw new Error("unreachable");
  }
  return openssl;
}

describe("ensureTlsMaterial()", () => {
  it("creates a private directory, a 0600 key and a matching certificate", async (ctx) => {
    const bin = needOpenssl(ctx);
    const dir = join(root, "instance", "tls");
    const material = await ensureTlsMaterial(dir, { commonName: "rdp.example.test", openssl: bin });

    expect(material.certPath).toBe(join(dir, "cert.pem"));
    expect(material.keyPath).toBe(join(dir, "key.pem"));
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(material.keyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(material.certPath)).mode & 0o777).toBe(0o644);
    // No scratch or temp files are left behind.
    expect((await readdir(dir)).sort()).toEqual(["cert.pem", "key.pem"]);

    const cert = new X509Certificate(await readFile(material.certPath));
    expect(cert.subject).toBe("CN=rdp.example.test");
    expect(cert.subjectAltName).toBe("DNS:rdp.example.test");
    expect(cert.ca).toBe(false);
    expect(material.sha256).toMatch(/^[0-9a-f]{64}$/);

    // openssl's own fingerprint, normalised, matches.
    const { stdout } = await run(bin, [
      "x509",
      "-in",
      material.certPath,
      "-noout",
      "-fingerprint",
      "-sha256",
    ]);
    const fromOpenssl = stdout.trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
    expect(material.sha256).toBe(fromOpenssl);

    // openssl confirms key and certificate belong together.
    const certModulus = await run(bin, ["x509", "-in", material.certPath, "-noout", "-modulus"]);
    const keyModulus = await run(bin, ["rsa", "-in", material.keyPath, "-noout", "-modulus"]);
    expect(keyModulus.stdout).toBe(certModulus.stdout);
  });

  it("reuses existing material on the second call", async (ctx) => {
    const bin = needOpenssl(ctx);
    const dir = join(root, "tls");
    const first = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    const key = await readFile(first.keyPath, "utf8");
    const certMtime = (await stat(first.certPath)).mtimeMs;
    const second = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    expect(second).toEqual(first);
    expect(await readFile(second.keyPath, "utf8")).toBe(key);
    expect((await stat(second.certPath)).mtimeMs).toBe(certMtime);
  });

  it("shares one generation between concurrent calls for one directory", async (ctx) => {
    const bin = needOpenssl(ctx);
    const dir = join(root, "tls");
    const [a, b] = await Promise.all([
      ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin }),
      ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin }),
    ]);
    expect(a.sha256).toBe(b.sha256);
    expect(certificateSha256(await readFile(a.certPath))).toBe(a.sha256);
  });

  it("regenerates when the key became readable by others or the pair does not match", async (ctx) => {
    const bin = needOpenssl(ctx);
    const dir = join(root, "tls");
    const first = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    await chmod(first.keyPath, 0o644);
    const second = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    expect(second.sha256).not.toBe(first.sha256);
    expect((await stat(second.keyPath)).mode & 0o777).toBe(0o600);

    await writeFile(second.certPath, "not a certificate");
    const third = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    expect(third.sha256).not.toBe(second.sha256);
    expect(certificateSha256(await readFile(third.certPath))).toBe(third.sha256);
  });

  it("regenerates for another common name and tightens a loose directory", async (ctx) => {
    const bin = needOpenssl(ctx);
    const dir = join(root, "tls");
    const first = await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
    await chmod(dir, 0o755);
    const second = await ensureTlsMaterial(dir, { commonName: "127.0.0.1", openssl: bin });
    expect(second.sha256).not.toBe(first.sha256);
    expect(new X509Certificate(await readFile(second.certPath)).subjectAltName).toBe(
      "IP Address:127.0.0.1",
    );
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("rejects a common name that could inject into openssl's -subj", async () => {
    for (const commonName of [
      "a/CN=evil",
      "a,O=x",
      "a b",
      "-rf",
      "",
      "a\nb",
      "é",
      "x".repeat(65),
    ]) {
      await expect(ensureTlsMaterial(join(root, "tls"), { commonName })).rejects.toBeInstanceOf(
        TlsMaterialError,
      );
    }
    expect(await readdir(root)).toEqual([]);
  });

  it("fails with TlsMaterialError when openssl is missing, leaving no key behind", async () => {
    const dir = join(root, "tls");
    await expect(
      ensureTlsMaterial(dir, { commonName: "localhost", openssl: join(root, "no-openssl") }),
    ).rejects.toBeInstanceOf(TlsMaterialError);
    expect(await readdir(dir)).toEqual([]);
  });

  describe("with takeKey", () => {
    it("uses the key it is given for new material", async (ctx) => {
      const bin = needOpenssl(ctx);
      const given = await generateInstanceKey();
      let calls = 0;
      const material = await ensureTlsMaterial(join(root, "tls"), {
        commonName: "localhost",
        openssl: bin,
        takeKey: () => {
          calls++;
          return given;
        },
      });
      expect(calls).toBe(1);
      const written = createPrivateKey(await readFile(material.keyPath, "utf8"));
      expect(written.equals(given)).toBe(true);
      expect(new X509Certificate(await readFile(material.certPath)).checkPrivateKey(given)).toBe(
        true,
      );
    });

    it("generates a key of its own when takeKey has none", async (ctx) => {
      const bin = needOpenssl(ctx);
      const material = await ensureTlsMaterial(join(root, "tls"), {
        commonName: "localhost",
        openssl: bin,
        takeKey: () => undefined,
      });
      const written = createPrivateKey(await readFile(material.keyPath, "utf8"));
      expect(isInstanceKey(written)).toBe(true);
    });

    it("does not take a key when the existing material is kept", async (ctx) => {
      const bin = needOpenssl(ctx);
      const dir = join(root, "tls");
      await ensureTlsMaterial(dir, { commonName: "localhost", openssl: bin });
      let calls = 0;
      await ensureTlsMaterial(dir, {
        commonName: "localhost",
        openssl: bin,
        takeKey: () => {
          calls++;
          return undefined;
        },
      });
      expect(calls).toBe(0);
    });

    it("refuses a key that is not an RSA-3072 private key, leaving no key behind", async () => {
      const dir = join(root, "tls");
      const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
      const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      for (const key of [weak, ec]) {
        await expect(
          ensureTlsMaterial(dir, { commonName: "localhost", takeKey: () => key }),
        ).rejects.toThrow(`RSA-${instanceKeyBits}`);
      }
      expect(await readdir(dir)).toEqual([]);
    });
  });
});

describe("generateInstanceKey()", () => {
  it("makes a new RSA-3072 private key each time", async () => {
    const [a, b] = await Promise.all([generateInstanceKey(), generateInstanceKey()]);
    expect(isInstanceKey(a)).toBe(true);
    expect(a.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(a.equals(b)).toBe(false);
  });
});

describe("writeFileAtomic()", () => {
  it("writes with the exact mode, replacing the old file and leaving no temp file", async () => {
    const path = join(root, "f.txt");
    await writeFileAtomic(path, "one", 0o644);
    await writeFileAtomic(path, "two", 0o600);
    expect(await readFile(path, "utf8")).toBe("two");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(root)).toEqual(["f.txt"]);
  });

  it("ignores the umask", async () => {
    const old = process.umask(0o077);
    try {
      await writeFileAtomic(join(root, "g.txt"), "x", 0o644);
    } finally {
      process.umask(old);
    }
    expect((await stat(join(root, "g.txt"))).mode & 0o777).toBe(0o644);
  });

  it("fails without creating anything when the directory is missing", async () => {
    await expect(writeFileAtomic(join(root, "missing", "f"), "x", 0o600)).rejects.toThrow();
    expect(await readdir(root)).toEqual([]);
  });
});
