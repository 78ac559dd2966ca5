import { execFile } from "node:child_process";
import type { PathLike } from "node:fs";
import {
  chmod,
  chown,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ApiKeyCredential } from "../../src/credentials/api-key/credential.js";
import { credentialTypeOf } from "../../src/credentials/registry.js";
import type { CredentialKind } from "../../test/provider-contract/credentials.js";
import {
  credentialId,
  credentialToFields,
  DOTENV_FIELD_DEFAULTS,
  fieldNamesOf,
} from "../../test/provider-contract/credentials.js";
import {
  type ContractStore,
  makeDirectoryUnwritable,
  rejection,
  runProviderContract,
} from "../../test/provider-contract/suite.js";
import type { RestorePoint, StoredCredential, StoreProvider } from "../contract.js";

import { dotenvFile } from "./index.js";
import { DotenvFileProvider } from "./provider.js";

// A test that asserts nothing proves nothing: every test here must make at least one assertion.
beforeEach(() => {
  expect.hasAssertions();
});

const isRoot = process.getuid?.() === 0;

/**
 * A rename over the file that fails only after the temp file beside it was created and written, for root and
 * any other user alike. Nothing on the file itself does that for everyone: an immutable file (chattr +i) needs
 * root to set up, and root ignores permission bits. So the one rename over `target` is made to meet a
 * directory where the file was: the file is moved aside, an empty directory takes its name, the real rename
 * runs and the kernel refuses it (EISDIR), and the file is put back. Every other call is the real one.
 */
const renameOver = vi.hoisted(() => ({ target: undefined as string | undefined }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...fs,
    rename: async (from: PathLike, to: PathLike): Promise<void> => {
      if (renameOver.target === undefined || String(to) !== renameOver.target) return fs.rename(from, to);
      renameOver.target = undefined;
      const aside = `${String(to)}.moved-aside`;
      await fs.rename(to, aside);
      await fs.mkdir(to);
      try {
        await fs.rename(from, to);
      } finally {
        await fs.rmdir(to);
        await fs.rename(aside, to);
      }
    },
  };
});

/** The operator's own lines around the credential, which every write must keep. */
function envFile(credential: StoredCredential | undefined): string {
  const credentialLines = credential
    ? Object.entries(credentialToFields(credential, DOTENV_FIELD_DEFAULTS)).map(([key, value]) => `${key}=${value}`)
    : [];
  return [
    "# Settings for the demo app",
    "export APP_NAME=demo",
    "",
    ...credentialLines,
    'LOG_LEVEL="debug" # verbose while testing',
    "GREETING='hello world'",
    "",
  ].join("\n");
}

function credentialVariables(kind: CredentialKind): string[] {
  return fieldNamesOf(kind, DOTENV_FIELD_DEFAULTS);
}

/** Clear the immutable attribute anywhere under `directory` (a failed test may leave one set), then delete it. */
async function removeDirectory(directory: string): Promise<void> {
  if (isRoot) await promisify(execFile)("chattr", ["-R", "-i", directory]).catch(() => undefined);
  await rm(directory, { recursive: true, force: true });
}

async function makeStore(
  initial: StoredCredential | undefined,
  kind: CredentialKind,
): Promise<ContractStore & { dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), "rotator-dotenv-"));
  const path = join(dir, "twilio.env");
  await writeFile(path, envFile(initial), { mode: 0o600 });
  await chmod(path, 0o600);
  // A relative path, resolved against the config file's directory.
  const config = dotenvFile.configSchema.parse({ name: "host", type: "dotenv-file", path: "twilio.env" });
  const open = () => new DotenvFileProvider(config, { credential: credentialTypeOf(kind), baseDir: dir, env: {} });
  const variables = credentialVariables(kind);
  return {
    dir,
    path,
    provider: open(),
    reopen: open,
    raw: () => readFile(path),
    others: async () =>
      (await readFile(path, "utf8"))
        .split("\n")
        .filter((line) => !variables.some((name) => new RegExp(`^(export\\s+)?${name}\\s*=`).test(line))),
    // An operator editing the file in place.
    externalWrite: (credential) => writeFile(path, envFile(credential)),
    breakStore: () => makeDirectoryUnwritable(dir),
    cleanup: () => removeDirectory(dir),
  };
}

runProviderContract(
  "dotenv-file",
  { create: makeStore },
  // No interceptsWrites: a file has no request to hold up. Its check and its rename are two system calls, so a
  // writer landing between them is not caught (the provider says so where it declares checkAndSet).
  {
    capabilities: {
      checkAndSet: true,
      versioned: false,
      fence: "store",
      rollbackFencesWrites: false,
    },
  },
);

describe("dotenv-file", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    renameOver.target = undefined;
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  let sequence = 0;
  function newKey(): ApiKeyCredential {
    sequence++;
    return {
      kind: "api-key",
      accountSid: `AC${"a".repeat(32)}`,
      apiKeySid: `SK${String(sequence).padStart(32, "0")}`,
      apiKeySecret: `secret${String(sequence).padStart(26, "0")}`,
    };
  }
  const ctx = { runId: "run-1" };
  const rollbackCtx = (credential: StoredCredential) => ({ ...ctx, newKeyId: credentialId(credential) });
  const journaled = (restorePoint: RestorePoint): RestorePoint => JSON.parse(JSON.stringify(restorePoint));

  /** A directory holding `twilio.env` with `content` (mode 600 unless given) and a provider for it. */
  async function fixture(content: string | Buffer, options: { mode?: number; config?: Record<string, unknown> } = {}) {
    const dir = await mkdtemp(join(tmpdir(), "rotator-dotenv-"));
    cleanups.push(() => removeDirectory(dir));
    const path = join(dir, "twilio.env");
    await writeFile(path, content);
    await chmod(path, options.mode ?? 0o600);
    const config = dotenvFile.configSchema.parse({
      name: "host",
      type: "dotenv-file",
      path: "twilio.env",
      ...options.config,
    });
    const open = (kind: CredentialKind = "api-key") =>
      new DotenvFileProvider(config, { credential: credentialTypeOf(kind), baseDir: dir, env: {} });
    return { dir, path, provider: open(), open };
  }

  async function prepared(provider: StoreProvider) {
    const { snapshot } = await provider.preflight();
    return journaled(await provider.prepare(snapshot, ctx));
  }

  describe("files rename cannot replace (issue #8)", () => {
    it("refuses a hard-linked file in preflight and prepare: the other names would keep the old credential", async () => {
      const { dir, path, provider } = await fixture(envFile(newKey()));
      const { link } = await import("node:fs/promises");
      await link(path, join(dir, "other-name.env"));
      for (const step of [
        () => provider.preflight(),
        () => provider.prepare({ credential: undefined, version: "x" }, ctx),
      ]) {
        const error = await rejection(step());
        expect(error.message).toMatch(/has 2 hard links; .*find \/ -xdev -samefile/);
      }
    });

    it("refuses a file that holds NUL bytes: it is not a dotenv file", async () => {
      const { provider } = await fixture(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x0a]));
      const error = await rejection(provider.preflight());
      expect(error.message).toMatch(/holds NUL bytes, so it is not a dotenv/);
    });

    it("refuses in preflight a binary file without NUL bytes that holds no credential, and leaves it alone", async () => {
      // A gzip header and a few bytes of deflate data: control bytes, no NUL, no KEY=value line.
      const binary = Buffer.from([
        0x1f, 0x8b, 0x08, 0x08, 0x9c, 0x3d, 0x54, 0x61, 0x02, 0x03, 0x61, 0x2e, 0x65, 0x6e, 0x76, 0x0a,
      ]);
      const { path, provider } = await fixture(binary);
      const error = await rejection(provider.preflight());
      expect(error.message).toMatch(/is not text \(it holds control bytes\) and assigns none of TWILIO_ACCOUNT_SID/);
      expect(await readFile(path)).toEqual(binary);
    });

    it("a text file with latin1 comments and no credential yet is still a dotenv file", async () => {
      const { provider } = await fixture(Buffer.from("# caf\xe9\nAPP=x\n", "latin1"));
      expect((await provider.preflight()).snapshot.credential).toBeUndefined();
    });

    it.runIf(isRoot)("refuses a bind-mounted file (rename onto a mount point always fails with EBUSY)", async () => {
      const { dir, path, provider } = await fixture(envFile(newKey()));
      const source = join(dir, "source.env");
      await writeFile(source, envFile(newKey()), { mode: 0o600 });
      await promisify(execFile)("mount", ["--bind", source, path]);
      try {
        const error = await rejection(provider.preflight());
        expect(error.message).toMatch(/is a mount point .*Mount the directory that holds it/);
      } finally {
        await promisify(execFile)("umount", [path]);
      }
    });
  });

  describe("identity", () => {
    it("is the real path, the same through a symlinked directory, with a claim file beside the real file", async () => {
      const { dir, path, provider } = await fixture(envFile(newKey()));
      const viaLink = join(dir, "..", `${dir.split("/").at(-1)}-link`);
      await symlink(dir, viaLink);
      cleanups.push(() => rm(viaLink, { force: true }));
      const other = new DotenvFileProvider(
        dotenvFile.configSchema.parse({ name: "other", type: "dotenv-file", path: join(viaLink, "twilio.env") }),
        { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} },
      );
      const [mine, theirs] = await Promise.all([provider.identity(), other.identity()]);
      const real = await realpath(path);
      expect(mine.key).toBe(`dotenv-file:${real}`);
      expect(theirs.key).toBe(mine.key);
      expect(mine.claimFile).toBe(join(await realpath(dir), ".twilio.env.rotator-claim"));
      expect(theirs.display).toContain(real);
    });
  });

  describe("editing", () => {
    it("keeps comments, other lines, export, quotes and inline comments byte-for-byte", async () => {
      const old = newKey();
      const original = [
        "# Twilio for the API",
        `export TWILIO_ACCOUNT_SID=${old.accountSid}`,
        `  TWILIO_API_KEY = "${old.apiKeySid}"   # rotated by rotator`,
        `TWILIO_API_SECRET='${old.apiKeySecret}'`,
        "",
        'DATABASE_URL="postgres://u@db/app" # not ours',
        'PEM="-----BEGIN',
        "TWILIO_API_KEY=inside-a-quoted-value",
        '-----END"',
        "EMPTY=",
        "",
      ].join("\n");
      const { path, provider } = await fixture(original);
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      expect(await readFile(path, "utf8")).toBe(
        original
          .replace(`"${old.apiKeySid}"`, `"${next.apiKeySid}"`)
          .replace(`'${old.apiKeySecret}'`, `'${next.apiKeySecret}'`),
      );
      expect((await provider.read()).credential).toEqual(next);
    });

    it("appends missing variables at the end, after the file's last line", async () => {
      const { path, provider } = await fixture("# no newline at the end\nAPP=1");
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      expect(await readFile(path, "utf8")).toBe(
        `# no newline at the end\nAPP=1\nTWILIO_ACCOUNT_SID=${next.accountSid}\n` +
          `TWILIO_API_KEY=${next.apiKeySid}\nTWILIO_API_SECRET=${next.apiKeySecret}\n`,
      );
    });

    it("rewrites every assignment of a duplicated variable and says so in preflight", async () => {
      const old = newKey();
      const { path, provider } = await fixture(`${envFile(old)}TWILIO_API_SECRET=${old.apiKeySecret}\n`);
      const { notes } = await provider.preflight();
      expect(notes.join("\n")).toContain("TWILIO_API_SECRET is assigned 2 times");
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      const text = await readFile(path, "utf8");
      expect(text.split(`TWILIO_API_SECRET=${next.apiKeySecret}`)).toHaveLength(3);
      expect(text).not.toContain(old.apiKeySecret);
    });

    it("keeps CRLF line endings", async () => {
      const old = newKey();
      const { path, provider } = await fixture(envFile(old).replaceAll("\n", "\r\n"));
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      expect(await readFile(path, "utf8")).toBe(envFile(next).replaceAll("\n", "\r\n"));
    });

    it("uses the configured variable names", async () => {
      const { path, provider } = await fixture("APP=1\n", {
        config: { fields: { apiKeySid: "TWILIO_KEY_SID", apiKeySecret: "TWILIO_KEY_SECRET" } },
      });
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      expect(await readFile(path, "utf8")).toBe(
        `APP=1\nTWILIO_ACCOUNT_SID=${next.accountSid}\nTWILIO_KEY_SID=${next.apiKeySid}\nTWILIO_KEY_SECRET=${next.apiKeySecret}\n`,
      );
      expect((await provider.read()).credential).toEqual(next);
    });

    it("for an auth token, leaves API key variables alone", async () => {
      const key = newKey();
      const { path, open } = await fixture(`${envFile(key)}TWILIO_AUTH_TOKEN=${"0".repeat(32)}\n`);
      const provider = open("auth-token");
      const next: StoredCredential = { kind: "auth-token", accountSid: key.accountSid, authToken: "f".repeat(32) };
      await provider.write(next, await prepared(provider), ctx);
      expect(await readFile(path, "utf8")).toBe(`${envFile(key)}TWILIO_AUTH_TOKEN=${"f".repeat(32)}\n`);
    });

    it("follows a symlink: replaces the file it points to and leaves the link in place", async () => {
      const old = newKey();
      const { dir, path } = await fixture(envFile(old));
      const link = join(dir, "link.env");
      await symlink(path, link);
      const provider = new DotenvFileProvider(
        dotenvFile.configSchema.parse({ name: "host", type: "dotenv-file", path: link }),
        { credential: credentialTypeOf("api-key"), baseDir: "/", env: {} },
      );
      expect((await provider.preflight()).notes.join("\n")).toContain("is a symlink");
      const next = newKey();
      await provider.write(next, await prepared(provider), ctx);
      expect((await lstat(link)).isSymbolicLink()).toBe(true);
      expect(await readFile(path, "utf8")).toBe(envFile(next));
    });
  });

  describe("permissions", () => {
    for (const mode of [0o640, 0o604, 0o620]) {
      it(`refuses a file with mode 0${mode.toString(8)} in preflight, prepare and write, and says how to fix it`, async () => {
        const old = newKey();
        const { path, provider } = await fixture(envFile(old), { mode });
        for (const call of [
          () => provider.preflight(),
          () => provider.prepare({ credential: old, version: "0".repeat(16) }, ctx),
          () => provider.write(newKey(), { path, backupPath: `${path}.bak`, hashBefore: "0".repeat(16) }, ctx),
        ]) {
          const error = await rejection(call());
          expect(error.kind).toBe("fatal");
          expect(error.message).toContain(path);
          expect(error.message).toContain(`mode 0${mode.toString(8)}`);
          expect(error.message).toContain(`chmod 600 ${path}`);
        }
        expect(await readFile(path, "utf8")).toBe(envFile(old));
      });
    }

    it("reports a missing file with the path and how to create it", async () => {
      const { dir, path } = await fixture("");
      await rm(path);
      const provider = new DotenvFileProvider(
        dotenvFile.configSchema.parse({ name: "host", type: "dotenv-file", path: "twilio.env" }),
        { credential: credentialTypeOf("api-key"), baseDir: dir, env: {} },
      );
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toBe(
        `store "host": file ${path} does not exist. Create it, readable by its owner only (install -m 600 /dev/null ${path}), or fix "path".`,
      );
    });

    it("keeps the file's mode, and its owner (as root), through write and rollback", async () => {
      const old = newKey();
      const { path, provider } = await fixture(envFile(old), { mode: 0o400 });
      if (isRoot) await chown(path, 4242, 4343);
      const before = await stat(path);
      const restorePoint = await prepared(provider);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      const written = await stat(path);
      expect(written.ino).not.toBe(before.ino); // replaced, not edited in place
      expect(written.mode).toBe(before.mode);
      expect([written.uid, written.gid]).toEqual([before.uid, before.gid]);

      await provider.rollback(restorePoint, rollbackCtx(next));
      const restored = await stat(path);
      expect(restored.mode).toBe(before.mode);
      expect([restored.uid, restored.gid]).toEqual([before.uid, before.gid]);
      expect(await readFile(path, "utf8")).toBe(envFile(old));
    });

    it("preflight reports a directory where the file cannot be replaced", async () => {
      const { dir, path, provider } = await fixture(envFile(newKey()));
      const repair = await makeDirectoryUnwritable(dir);
      cleanups.push(repair);
      const error = await rejection(provider.preflight());
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`create files in directory ${dir}`);
      expect(error.message).toMatch(/EPERM|EACCES/);
      expect(await readFile(path, "utf8")).toContain("TWILIO_API_KEY=");
    });
  });

  describe("backup and undo", () => {
    it("prepare copies the file byte-for-byte to a private backup that release deletes", async () => {
      const original = Buffer.concat([Buffer.from(envFile(newKey())), Buffer.from([0xff, 0x0a])]);
      const { dir, path, provider } = await fixture(original);
      const restorePoint = await prepared(provider);
      const backupPath = join(dir, ".twilio.env.rotator-run-1.bak");
      expect(restorePoint).toEqual({ path, backupPath, hashBefore: expect.stringMatching(/^[0-9a-f]{16}$/) });
      expect(await readFile(backupPath)).toEqual(original);
      expect((await stat(backupPath)).mode & 0o777).toBe(0o600);
      expect(restorePoint.hashBefore).toBe((await provider.read()).version);

      // A retried prepare of the same run reuses its backup.
      expect(journaled(await provider.prepare(await provider.read(), ctx))).toEqual(restorePoint);

      await provider.release(restorePoint, { ...ctx, newKeyId: "" });
      expect((await readdir(dir)).sort()).toEqual(["twilio.env"]);
    });

    it("puts the backup in backupDir, resolved against the config's directory", async () => {
      const { dir, provider } = await fixture(envFile(newKey()), { config: { backupDir: "backups" } });
      await mkdir(join(dir, "backups"), { mode: 0o700 });
      const restorePoint = await prepared(provider);
      expect(restorePoint.backupPath).toBe(join(dir, "backups", ".twilio.env.rotator-run-1.bak"));
      await provider.release(restorePoint, { ...ctx, newKeyId: "" });
      expect(await readdir(join(dir, "backups"))).toEqual([]);
    });

    it("never overwrites an existing, different backup of the same run", async () => {
      const { dir, path, provider } = await fixture(envFile(newKey()));
      const backupPath = join(dir, ".twilio.env.rotator-run-1.bak");
      await writeFile(backupPath, "an older copy\n", { mode: 0o600 });
      const error = await rejection(prepared(provider));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain(backupPath);
      expect(await readFile(backupPath, "utf8")).toBe("an older copy\n");
      expect(await readFile(path, "utf8")).toContain("TWILIO_API_KEY=");
    });

    it("after a crash, a new provider instance rolls back from the journaled restore point alone", async () => {
      const old = newKey();
      const { dir, path, provider } = await fixture(envFile(old));
      const before = await readFile(path);
      const beforeStat = await stat(path);
      const restorePoint = await prepared(provider);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      // The crashed process also left a temp file of this run behind.
      await writeFile(join(dir, ".twilio.env.rotator-run-1.abcdef.tmp"), "partial", { mode: 0o600 });

      const resumed = new DotenvFileProvider(
        dotenvFile.configSchema.parse({ name: "host", type: "dotenv-file", path: join(dir, "twilio.env") }),
        { credential: credentialTypeOf("api-key"), baseDir: "/elsewhere", env: {} },
      );
      await resumed.rollback(JSON.parse(JSON.stringify(restorePoint)), rollbackCtx(next));
      expect(await readFile(path)).toEqual(before);
      expect((await stat(path)).mode).toBe(beforeStat.mode);
      await resumed.release(restorePoint, rollbackCtx(next));
      expect(await readdir(dir)).toEqual(["twilio.env"]);
    });

    it("write refuses when the backup is gone, since the write could not be undone", async () => {
      const old = newKey();
      const { path, provider } = await fixture(envFile(old));
      const restorePoint = await prepared(provider);
      await rm(String(restorePoint.backupPath));
      const error = await rejection(provider.write(newKey(), restorePoint, ctx));
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(String(restorePoint.backupPath));
      expect(await readFile(path, "utf8")).toBe(envFile(old));
    });

    it("rollback without a backup is a no-op if the file never changed, and refuses if it did", async () => {
      const old = newKey();
      const { path, provider } = await fixture(envFile(old));
      const restorePoint = await prepared(provider);
      const next = newKey();
      await rm(String(restorePoint.backupPath));
      await provider.rollback(restorePoint, rollbackCtx(next));
      expect(await readFile(path, "utf8")).toBe(envFile(old));

      await writeFile(path, envFile(next));
      const error = await rejection(provider.rollback(restorePoint, rollbackCtx(next)));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain("backup");
      expect(await readFile(path, "utf8")).toBe(envFile(next));
    });

    it("rollback refuses a file that holds our key but had other lines changed after our write", async () => {
      const old = newKey();
      const { path, provider } = await fixture(envFile(old));
      const restorePoint = await prepared(provider);
      const next = newKey();
      await provider.write(next, restorePoint, ctx);
      const edited = `${await readFile(path, "utf8")}ADDED_LATER=1\n`;
      await writeFile(path, edited);
      const error = await rejection(provider.rollback(restorePoint, rollbackCtx(next)));
      expect(error.kind).toBe("needs-operator");
      expect(error.message).toContain(path);
      expect(error.message).toContain(String(restorePoint.backupPath));
      expect(await readFile(path, "utf8")).toBe(edited);
    });

    it("refuses a restore point recorded for another file", async () => {
      const { provider } = await fixture(envFile(newKey()));
      const error = await rejection(
        provider.rollback(
          { path: "/etc/other.env", backupPath: "/etc/.other.env.bak", hashBefore: "0".repeat(16) },
          rollbackCtx(newKey()),
        ),
      );
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain("/etc/other.env");
    });
  });

  describe("failed writes", () => {
    it("leave no temp file behind when the directory refuses new files", async () => {
      const old = newKey();
      const { dir, path, provider } = await fixture(envFile(old));
      const restorePoint = await prepared(provider);
      const listing = (await readdir(dir)).sort();
      const repair = await makeDirectoryUnwritable(dir);
      cleanups.push(repair);
      const error = await rejection(provider.write(newKey(), restorePoint, ctx));
      await repair();
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`cannot write file ${path}`);
      expect((await readdir(dir)).sort()).toEqual(listing);
      expect(await readFile(path, "utf8")).toBe(envFile(old));
    });

    it("leave no temp file behind when the rename over the file fails", async () => {
      const old = newKey();
      const { dir, path, provider } = await fixture(envFile(old));
      const restorePoint = await prepared(provider);
      const listing = (await readdir(dir)).sort();
      renameOver.target = await realpath(path);
      const error = await rejection(provider.write(newKey(), restorePoint, ctx));
      expect(renameOver.target, "the provider renamed a temp file over the file").toBeUndefined();
      expect(error.kind).toBe("fatal");
      expect(error.message).toContain(`cannot write file ${path} (EISDIR)`);
      expect((await readdir(dir)).sort()).toEqual(listing);
      expect(await readFile(path, "utf8")).toBe(envFile(old));
    });
  });

  describe("config", () => {
    const parse = (entry: Record<string, unknown>) =>
      dotenvFile.configSchema.safeParse({ name: "host", type: "dotenv-file", ...entry });

    it("rejects unknown keys, naming them", () => {
      const result = parse({ path: "a.env", mode: "600" });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]).toMatchObject({ code: "unrecognized_keys", keys: ["mode"] });
    });

    it("rejects field names a dotenv file cannot hold, and two fields sharing a name", () => {
      expect(parse({ path: "a.env", fields: { apiKeySid: "MY-KEY" } }).error?.issues[0]?.path).toEqual([
        "fields",
        "apiKeySid",
      ]);
      expect(parse({ path: "a.env", fields: { apiKeySid: "TWILIO_API_SECRET" } }).error?.issues[0]?.path).toEqual([
        "fields",
      ]);
    });

    it("describes the store by its absolute path", async () => {
      const { path, provider } = await fixture("");
      expect(provider.describe()).toBe(`dotenv file ${path}`);
      expect(provider.type).toBe("dotenv-file");
      expect(provider.capabilities).toEqual({
        checkAndSet: true,
        versioned: false,
        fence: "store",
        rollbackFencesWrites: false,
      });
    });
  });
});
