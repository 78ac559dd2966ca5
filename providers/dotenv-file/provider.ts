/**
 * A dotenv file on this host. The credential's variables are rewritten in place (other lines kept byte for
 * byte) by an atomic replace that keeps the file's mode and owner.
 *
 * Undo: `prepare` copies the file to a backup next to it (or in `backupDir`), mode 600, and the restore point
 * records the backup's path and the content hash of the original. `rollback` puts the backup back only if the
 * file holds exactly what this run wrote; anything else is someone else's change, which it leaves alone.
 *
 * Versions and the restore point's hash are the first 16 hex digits (64 bits) of the SHA-256 of the file's
 * bytes. They are journaled, so they must not reveal the secret: 64 bits cannot single out one value of a
 * secret that has 128 bits or more (Twilio API key secrets and auth tokens do), so no search can confirm a
 * guess, and 64 bits are plenty to notice that a file changed.
 */
import { createHash } from "node:crypto";
import type { Stats } from "node:fs";
import { constants } from "node:fs";
import { access, readFile, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import * as z from "zod";
import type {
  ProviderCapabilities,
  ProviderPreflight,
  RestorePoint,
  StoredCredential,
  StoreProvider,
  StoreSnapshot,
  UndoContext,
  WriteContext,
} from "../contract.js";
import type { ProviderEnvironment } from "../definition.js";
import { failureKind } from "../error-kit/classify.js";
import { withRetries } from "../error-kit/retry.js";
import type { StoreError, StoreErrorKind } from "../errors.js";
import { StoredFields } from "../fields.js";
import { once, type StoreIdentity } from "../identity.js";
import { beforeSend, StoreFenceError, storeChange } from "../store-call.js";
import {
  assertCredentialKind,
  type ErrorFactory,
  holdsWritten,
  parseRestorePoint,
  shellQuote,
  storeErrors,
} from "../toolkit.js";
import { dotenvValues, parseDotenv, updateDotenv } from "./dotenv-format.js";
import {
  createFileOnce,
  errorCode,
  FileStepError,
  readIfExists,
  removeFile,
  removeTempFiles,
  replaceFile,
} from "./files.js";
import type { DotenvFileConfig } from "./schema.js";

/** The restore point this provider journals. Paths and a content hash; never file content. */
const restorePointSchema = z.object({
  /** The configured file (absolute), to catch a config that now points elsewhere. */
  path: z.string(),
  backupPath: z.string(),
  /** contentVersion() of the file when prepare copied it. */
  hashBefore: z.string().regex(/^[0-9a-f]{16}$/),
});
type DotenvRestorePoint = z.infer<typeof restorePointSchema>;

/** The located file: its real path (symlinks resolved) and its stat. */
interface Located {
  real: string;
  stats: Stats;
}

export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

export class DotenvFileProvider implements StoreProvider {
  readonly type = "dotenv-file";
  /**
   * checkAndSet: prepare and write refuse a file whose content hash is not the one read before. The compare
   * and the rename are two system calls, so a writer landing in between (microseconds) is not caught; dotenv
   * files have no lock every editor honours.
   */
  readonly capabilities: ProviderCapabilities = {
    checkAndSet: true,
    versioned: false,
    fence: "store",
    rollbackFencesWrites: false,
  };
  readonly name: string;
  /** The configured file, absolute. */
  readonly path: string;
  readonly #backupDir: string | undefined;
  /** The run's credential type, as this store names its fields. */
  readonly #fields: StoredFields;
  readonly #error: ErrorFactory;

  constructor(config: DotenvFileConfig, environment: ProviderEnvironment) {
    this.name = config.name;
    this.#error = storeErrors(config.name);
    this.path = resolve(environment.baseDir, config.path);
    this.#backupDir = config.backupDir === undefined ? undefined : resolve(environment.baseDir, config.backupDir);
    this.#fields = new StoredFields(environment.credential, "dotenv", config.fields);
  }

  describe(): string {
    return `dotenv file ${this.path}`;
  }

  /**
   * The file's real path (symlinks in the path resolved, so a symlinked directory is the same store), and a
   * claim file beside it that every run sees whatever its state directory. Not the inode: every write
   * replaces the file by rename, which gives it a new one.
   */
  readonly identity = once(async (): Promise<StoreIdentity> => {
    const real = await canonicalFilePath(this.path);
    return {
      key: `dotenv-file:${real}`,
      display: real === this.path ? `dotenv file ${this.path}` : `dotenv file ${this.path} (${real})`,
      claimFile: join(dirname(real), `.${basename(real)}.rotator-claim`),
    };
  });

  async preflight(): Promise<ProviderPreflight> {
    const { real, stats } = await this.#locate();
    this.#refuseLooseMode(stats);
    await this.#refuseUnreplaceable(real, stats);
    const directory = dirname(real);
    await this.#checkAccess(real, constants.R_OK, `read file ${this.path}`);
    // The file is replaced, not written, so its own write bit does not matter; but an immutable file (EPERM) or a
    // read-only file system (EROFS) would refuse the rename, and as root that is all W_OK still checks.
    await this.#checkAccess(real, constants.W_OK, `replace file ${this.path}`, ["EACCES"]);
    this.#checkOwnerCanBeKept(stats);
    await this.#checkAccess(directory, constants.W_OK | constants.X_OK, `create files in directory ${directory}`);
    const backupDir = this.#backupDir ?? directory;
    if (backupDir !== directory) {
      await this.#checkAccess(
        backupDir,
        constants.W_OK | constants.X_OK,
        `create the backup in directory ${backupDir}`,
      );
    }

    const bytes = await this.#read(real);
    const snapshot = this.#snapshotOf(bytes);
    const notes: string[] = [];
    if (real !== this.path) notes.push(`${this.path} is a symlink; rotator replaces the file it points to, ${real}.`);
    const keys = new Set(this.#fields.names);
    const counts = new Map<string, number>();
    for (const entry of parseDotenv(bytes)) {
      if (keys.has(entry.key)) counts.set(entry.key, (counts.get(entry.key) ?? 0) + 1);
    }
    for (const [key, count] of counts) {
      if (count > 1)
        notes.push(`${key} is assigned ${count} times in ${this.path}; rotator rewrites every assignment.`);
    }
    if (snapshot.credential === undefined) {
      // Appending KEY=value lines to something that is not text (an archive, an image, a key store) would
      // corrupt it; a dotenv file that is merely empty or new is text.
      if (counts.size === 0 && !looksLikeText(bytes)) {
        throw this.#error(
          "fatal",
          `file ${this.path} is not text (it holds control bytes) and assigns none of ${[...keys].join(", ")}, so it is not a dotenv (KEY=value) file; rotator would corrupt it by adding lines. Check "path".`,
        );
      }
      notes.push(`${this.path} holds no complete credential yet; the first write adds ${[...keys].join(", ")}.`);
    }
    return { snapshot, notes };
  }

  async read(): Promise<StoreSnapshot> {
    const { real } = await this.#locate();
    return this.#snapshotOf(await this.#read(real));
  }

  async prepare(expected: StoreSnapshot, ctx: WriteContext): Promise<RestorePoint> {
    const { real, stats } = await this.#locate();
    this.#refuseLooseMode(stats);
    await this.#refuseUnreplaceable(real, stats);
    const bytes = await this.#read(real);
    const version = contentVersion(bytes);
    if (version !== expected.version) {
      throw this.#error(
        "needs-operator",
        `file ${this.path} changed after rotator read it (version ${expected.version ?? "none"}, now ${version}); ` +
          "someone else may be editing it. Run again once it is settled.",
      );
    }

    const backupPath = join(this.#backupDir ?? dirname(real), `${tempPrefix(real, ctx)}.bak`);
    const outcome = await this.#file(`back up file ${this.path} to ${backupPath}`, () =>
      createFileOnce(backupPath, bytes, tempPrefix(real, ctx)),
    );
    if (outcome === "exists") {
      // A retried prepare finds its own backup; anything else may hold an earlier secret: never overwrite it.
      const existing = await this.#readOptional(backupPath);
      if (existing === undefined || !existing.equals(bytes)) {
        throw this.#error(
          "needs-operator",
          `a backup for run ${ctx.runId} already exists at ${backupPath} and differs from ${this.path}; ` +
            "it may hold the credential from before an interrupted run. Keep it until you have checked which " +
            "credential is live, then delete it and run again.",
        );
      }
    }
    const point: DotenvRestorePoint = { path: this.path, backupPath, hashBefore: version };
    return point;
  }

  async write(next: StoredCredential, restorePoint: RestorePoint, ctx: WriteContext): Promise<string | undefined> {
    assertCredentialKind(next, this.#fields.type, this.#error);
    const point = this.#restorePoint(restorePoint);
    const { real, stats } = await this.#locate();
    await this.#fenceOutEarlierWriters(real);
    this.#refuseLooseMode(stats);
    const bytes = await this.#read(real);
    const updated = this.#withCredential(bytes, next);
    if (updated.equals(bytes)) return contentVersion(bytes); // already written (a retry, or a resume)

    if (contentVersion(bytes) !== point.hashBefore) {
      throw this.#error(
        "needs-operator",
        `file ${this.path} changed after rotator backed it up to ${point.backupPath}; someone else may be ` +
          "editing it. Rotator did not write it.",
      );
    }
    const backup = await this.#readOptional(point.backupPath);
    if (backup === undefined || !backup.equals(bytes)) {
      throw this.#error(
        "fatal",
        `the backup ${point.backupPath} of file ${this.path} is missing or changed, so a write could not be ` +
          "undone; rotator did not write the file.",
      );
    }
    await this.#file(`write file ${this.path}`, () =>
      replaceFile(real, updated, ownershipOf(stats), tempPrefix(real, ctx), fencedRename("write")),
    );
    return contentVersion(updated);
  }

  async rollback(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    const real = await this.#realPathIfExists();
    if (real !== undefined) await this.#fenceOutEarlierWriters(real);
    const current = real === undefined ? undefined : await this.#readOptional(real);
    if (current !== undefined && contentVersion(current) === point.hashBefore) return; // never written, or undone

    const handBack = `The content from before the run is in ${point.backupPath}; compare, and restore it by hand if it is right (cp -p ${shellQuote(point.backupPath)} ${shellQuote(this.path)}).`;
    const backup = await this.#readOptional(point.backupPath);
    if (backup === undefined || contentVersion(backup) !== point.hashBefore) {
      throw this.#error(
        "needs-operator",
        `cannot roll back file ${this.path}: it changed since the run began and its backup ${point.backupPath} is ` +
          "missing or changed. Check which credential the file should hold.",
      );
    }
    if (real === undefined || current === undefined) {
      throw this.#error("needs-operator", `file ${this.path} was removed after rotator wrote it. ${handBack}`);
    }
    // Ours only if it is exactly what write() makes from the backup with the credential the run wrote.
    const held = this.#credentialIn(current);
    const ours =
      held !== undefined && holdsWritten(this.#fields, held, ctx) && this.#withCredential(backup, held).equals(current);
    if (!ours) {
      throw this.#error(
        "needs-operator",
        `file ${this.path} was changed by someone else after rotator wrote it, so rotator left it alone. ${handBack}`,
      );
    }
    const stats = await this.#file(`read file ${this.path}`, () => stat(real));
    await this.#file(`restore file ${this.path} from ${point.backupPath}`, () =>
      replaceFile(real, backup, ownershipOf(stats), tempPrefix(real, ctx), fencedRename("restore")),
    );
  }

  async release(restorePoint: RestorePoint, ctx: UndoContext): Promise<void> {
    const point = this.#restorePoint(restorePoint);
    await this.#file(`delete the backup ${point.backupPath}`, async () => {
      await removeFile(point.backupPath);
      // Temp files of this run survive only a crash mid-write; they may hold a secret.
      const real = (await this.#realPathIfExists()) ?? this.path;
      await removeTempFiles(dirname(real), `${tempPrefix(real, ctx)}.`);
      await removeTempFiles(dirname(point.backupPath), `${tempPrefix(real, ctx)}.`);
    });
  }

  /**
   * Remove every rotator temp file beside the file, before this process writes it. Whoever holds the store's
   * lock now is the only writer allowed: a temp file there is an earlier writer's, one that crashed or one that
   * lost the lock, frozen between its temp file and its rename. Its rename then finds no file and fails, so it
   * can never replace the file after this process looked at it. (A writer checks its lock only after its temp
   * file is flushed: one that passed the check made its temp file before this removal, which therefore finds it.)
   */
  async #fenceOutEarlierWriters(real: string): Promise<void> {
    await this.#file(`remove rotator's leftover temp files beside ${this.path}`, () =>
      removeTempFiles(dirname(real), rotatorPrefix(real)),
    );
  }

  /** The file with the credential's lines set and the lines of the optional fields it lacks removed. */
  #withCredential(bytes: Uint8Array, credential: StoredCredential): Buffer {
    return updateDotenv(bytes, this.#fields.toStore(credential), this.#fields.absentNames(credential));
  }

  #snapshotOf(bytes: Uint8Array): StoreSnapshot {
    return { credential: this.#credentialIn(bytes), version: contentVersion(bytes) };
  }

  #credentialIn(bytes: Uint8Array): StoredCredential | undefined {
    return this.#fields.fromStore(Object.fromEntries(dotenvValues(bytes)));
  }

  #restorePoint(restorePoint: RestorePoint): DotenvRestorePoint {
    const point = parseRestorePoint(restorePointSchema, restorePoint, this.#error);
    if (point.path !== this.path) {
      throw this.#error(
        "fatal",
        `the restore point is for file ${point.path}, but this store is now configured with ${this.path}; ` +
          `the content from before the run is in ${point.backupPath}.`,
      );
    }
    return point;
  }

  async #locate(): Promise<Located> {
    let real: string;
    let stats: Stats;
    try {
      real = await realpath(this.path);
      stats = await stat(real);
    } catch (error) {
      if (errorCode(error) === "ENOENT") {
        throw this.#error(
          "fatal",
          `file ${this.path} does not exist. Create it, readable by its owner only ` +
            `(install -m 600 /dev/null ${shellQuote(this.path)}), or fix "path".`,
          error,
        );
      }
      throw this.#fileError(error, `find file ${this.path}`);
    }
    if (!stats.isFile())
      throw this.#error("fatal", `${this.path} is not a regular file; "path" must name a dotenv file.`);
    return { real, stats };
  }

  async #realPathIfExists(): Promise<string | undefined> {
    try {
      return await realpath(this.path);
    } catch (error) {
      if (errorCode(error) === "ENOENT") return undefined;
      throw this.#fileError(error, `find file ${this.path}`);
    }
  }

  /**
   * The write replaces the file by rename (atomic for readers). Two kinds of file cannot be replaced that way
   * and would fail, or worse, half-succeed, only at write time:
   * - a hard-linked file (link count above 1): the rename gives this name a new file, and every other name
   *   keeps the old content, so the apps reading it through another name keep the revoked key;
   * - a mount point (a file bind-mounted into a container, say): rename onto a mount point fails with EBUSY,
   *   every time.
   */
  async #refuseUnreplaceable(real: string, stats: Stats): Promise<void> {
    if (stats.nlink > 1) {
      throw this.#error(
        "fatal",
        `file ${this.path} has ${stats.nlink} hard links; rotator replaces the file (atomic rename), which would ` +
          "leave every other name holding the old credential. Point every reader at one name (a symlink is fine) " +
          `and remove the other links (find / -xdev -samefile ${shellQuote(real)}).`,
      );
    }
    if (await isMountPoint(real, stats)) {
      throw this.#error(
        "fatal",
        `file ${this.path} is a mount point (bind-mounted?), and a mount point cannot be replaced by rename, which ` +
          "is how rotator writes atomically. Mount the directory that holds it instead of the file, or point " +
          '"path" at the file on the host it is mounted from.',
      );
    }
  }

  /** A file holding a secret must not be open to other users: they could read it, or plant their own. */
  #refuseLooseMode(stats: Stats): void {
    if ((stats.mode & 0o077) === 0) return;
    const mode = `0${(stats.mode & 0o777).toString(8).padStart(3, "0")}`;
    throw this.#error(
      "fatal",
      `file ${this.path} has mode ${mode}, so other users can read or change the credential. ` +
        `Make it private to its owner: chmod 600 ${shellQuote(this.path)}`,
    );
  }

  async #checkAccess(path: string, mode: number, what: string, ignore: readonly string[] = []): Promise<void> {
    try {
      await access(path, mode);
    } catch (error) {
      if (ignore.includes(errorCode(error) ?? "")) return;
      throw this.#fileError(error, what);
    }
  }

  /** The replacement must get the file's owner and group back, which only root can give to someone else. */
  #checkOwnerCanBeKept(stats: Stats): void {
    const uid = process.getuid?.();
    if (uid === undefined || uid === 0) return;
    const groups = new Set([process.getegid?.(), ...(process.getgroups?.() ?? [])]);
    if (stats.uid === uid && groups.has(stats.gid)) return;
    throw this.#error(
      "fatal",
      `file ${this.path} belongs to uid ${stats.uid} and gid ${stats.gid}; running as uid ${uid}, rotator could ` +
        "not give the rewritten file that owner. Run rotator as root or as the file's owner.",
    );
  }

  async #read(real: string): Promise<Buffer> {
    const bytes = await this.#readOptional(real);
    if (bytes === undefined) throw this.#error("fatal", `file ${this.path} disappeared while rotator was reading it.`);
    // A dotenv file is text; a NUL byte means "path" names something else (a binary, a database), which a
    // rewrite would corrupt.
    if (bytes.includes(0)) {
      throw this.#error(
        "fatal",
        `file ${this.path} holds NUL bytes, so it is not a dotenv (KEY=value text) file; check "path".`,
      );
    }
    return bytes;
  }

  async #readOptional(path: string): Promise<Buffer | undefined> {
    return this.#file(`read ${path}`, () => readIfExists(path));
  }

  /** One file operation: a passing failure (EBUSY, EMFILE, ...) tried again by the one retry policy, then said in the user's terms. */
  #file<T>(action: string, operation: () => Promise<T>): Promise<T> {
    return withRetries(async () => {
      try {
        return await operation();
      } catch (error) {
        throw this.#fileError(error, action);
      }
    });
  }

  /** A failed file operation, said in the user's terms. fs errors carry paths and codes, never file content. */
  #fileError(error: unknown, action: string): StoreError {
    if (error instanceof StoreFenceError) return error;
    const step = error instanceof FileStepError ? error.step : undefined;
    const code = errorCode(error instanceof FileStepError ? error.cause : error);
    const [kind, hint] = explain(code, step);
    return this.#error(kind, `cannot ${action}${code === undefined ? "" : ` (${code})`}${hint}`, error);
  }
}

function explain(code: string | undefined, step: string | undefined): [StoreErrorKind, string] {
  if (step === "chown") {
    return ["fatal", ": cannot give the new file the original's owner; run rotator as root or as the file's owner."];
  }
  switch (code) {
    case "EACCES":
      return ["fatal", ": permission denied; run rotator as a user that can read and replace the file."];
    case "EPERM":
      return [
        "fatal",
        ": operation not permitted; is the file or its directory immutable (lsattr) or owned by another user?",
      ];
    case "ENOENT":
      return ["fatal", ": no such file or directory."];
    case "EROFS":
      return ["fatal", ": the file system is read-only."];
    case "ENOSPC":
    case "EDQUOT":
      return ["fatal", ": no space left on the device."];
    default:
      // Busy or out of descriptors for now (EBUSY, EMFILE, ...) is passing, as for every store (error-kit).
      return failureKind({ code }) === "retryable" ? ["retryable", "; trying again may work."] : ["fatal", "."];
  }
}

/** The real path of a file, or of its directory plus its name when the file does not exist (yet). */
async function canonicalFilePath(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    try {
      return join(await realpath(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }
}

/**
 * A mount point: on another device than its directory, or listed in /proc/self/mountinfo (a bind mount from
 * the same file system keeps the device). Where /proc is missing, the device check is all there is.
 */
async function isMountPoint(real: string, stats: Stats): Promise<boolean> {
  try {
    if ((await stat(dirname(real))).dev !== stats.dev) return true;
  } catch {
    // The directory was readable a moment ago; if not now, the write will say so.
  }
  let table: string;
  try {
    table = await readFile("/proc/self/mountinfo", "utf8");
  } catch {
    return false;
  }
  // Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
  const unescapeOctal = (field: string) =>
    field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
  return table.split("\n").some((line) => unescapeOctal(line.split(" ")[4] ?? "") === real);
}

/**
 * Whether bytes read as text: no control bytes but tab, line feed, carriage return and form feed (NUL bytes
 * are refused earlier, whatever the file holds). Not a UTF-8 check: the format keeps latin1 lines as they are.
 */
export function looksLikeText(bytes: Uint8Array): boolean {
  return !bytes.some(
    (byte) => (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) || byte === 0x7f,
  );
}

function ownershipOf(stats: Stats): { mode: number; uid: number; gid: number } {
  return { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid };
}

/** Names of this run's backup and temp files: `.<file>.rotator-<runId>`, next to the file. */
function tempPrefix(real: string, ctx: WriteContext): string {
  const run = ctx.runId.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  return `${rotatorPrefix(real)}${run}`;
}

/** What every run's backup and temp file names beside the file start with. */
function rotatorPrefix(real: string): string {
  return `.${basename(real)}.rotator-`;
}

/**
 * The rename that replaces the file, as one fenced store change: only while this process holds the store's
 * lock, checked after the temp file is flushed and again (by the clock) right before the rename.
 */
function fencedRename(op: string): (rename: () => Promise<void>) => Promise<void> {
  return (rename) =>
    storeChange(op, async () => {
      await beforeSend();
      await rename();
    });
}
