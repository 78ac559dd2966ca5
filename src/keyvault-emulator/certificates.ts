/**
 * The Key Vault test server's TLS certificate, made with openssl when the server starts: a throwaway CA and a
 * server certificate it signs for 127.0.0.1 and localhost. Clients trust the CA explicitly (the SDK's
 * `tlsOptions.ca` in process, NODE_EXTRA_CA_CERTS for a child process); verification is never turned off.
 *
 * A directory that already holds a complete set is reused, so a server restarted on the same ports (an outage
 * test) keeps the certificate its clients already trust. The CA's private key is deleted once it has signed:
 * nothing else is ever signed with it.
 */
import { execFile } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface ServerCertificate {
  /** The directory holding ca.pem, server.pem and server.key. */
  dir: string;
  /** The CA certificate to trust (PEM), and its file (for NODE_EXTRA_CA_CERTS). */
  caPem: string;
  caFile: string;
  /** The server's certificate and private key (PEM). */
  certPem: string;
  keyPem: string;
}

/** A few days: long enough for any test run, short enough that a stray copy is soon worthless. */
const VALID_DAYS = "3";

/** Make (or reuse) the certificate in `dir`; a fresh temp directory when none is given. */
export async function makeServerCertificate(dir?: string): Promise<ServerCertificate> {
  const where = dir ?? (await mkdtemp(join(tmpdir(), "keyvault-tls-")));
  await mkdir(where, { recursive: true, mode: 0o700 });
  const caFile = join(where, "ca.pem");
  const certFile = join(where, "server.pem");
  const keyFile = join(where, "server.key");
  if (![caFile, certFile, keyFile].every((file) => existsSync(file)) || !(await stillValid(certFile))) {
    await generate(where, caFile, certFile, keyFile);
  }
  const [caPem, certPem, keyPem] = await Promise.all([
    readFile(caFile, "utf8"),
    readFile(certFile, "utf8"),
    readFile(keyFile, "utf8"),
  ]);
  return { dir: where, caPem, caFile, certPem, keyPem };
}

async function stillValid(certFile: string): Promise<boolean> {
  const certificate = new X509Certificate(await readFile(certFile));
  return Date.parse(certificate.validTo) > Date.now() + 60 * 60 * 1000;
}

async function generate(dir: string, caFile: string, certFile: string, keyFile: string): Promise<void> {
  const caKey = join(dir, "ca.key");
  const csr = join(dir, "server.csr");
  const extensions = join(dir, "server.ext");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  try {
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      caKey,
      "-out",
      caFile,
      "-days",
      VALID_DAYS,
      "-subj",
      "/CN=rotator Key Vault test server CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    await openssl(["req", ...ec, "-keyout", keyFile, "-out", csr, "-subj", "/CN=127.0.0.1"]);
    await writeFile(
      extensions,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "",
      ].join("\n"),
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      caFile,
      "-CAkey",
      caKey,
      "-set_serial",
      `0x${randomBytes(8).toString("hex")}`,
      "-days",
      VALID_DAYS,
      "-extfile",
      extensions,
      "-out",
      certFile,
    ]);
    await chmod(keyFile, 0o600);
  } finally {
    await Promise.all([caKey, csr, extensions].map((file) => rm(file, { force: true })));
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await execFileAsync("openssl", args);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(
        "openssl not found: install it (Debian: apt-get install openssl); the Key Vault test server needs it",
      );
    }
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(error)}`);
  }
}
