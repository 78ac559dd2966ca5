/**
 * File operations that never leave a reader looking at a half-written file and never leave a secret behind in
 * a stray temp file. Errors are plain Node errors wrapped in FileStepError, which says which step failed; the
 * provider turns them into StoreErrors with a message for the user.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, link, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";

export type FileStep = "create-temp" | "chown" | "write" | "rename" | "link" | "sync-dir";

export class FileStepError extends Error {
  override readonly name = "FileStepError";
  constructor(
    readonly step: FileStep,
    readonly path: string,
    cause: unknown,
  ) {
    super(`${step} ${path}: ${errorCode(cause) ?? "failed"}`, { cause });
  }
}

export interface Ownership {
  /** Permission bits (the file-type bits of a stat mode are ignored). */
  mode: number;
  uid: number;
  gid: number;
}

/** The errno code of a Node error (`ENOENT`, `EPERM`, ...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/** The file's bytes, or undefined if it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Replace `target` with `data` atomically: write a temp file in the same directory, flush it, rename it over the
 * target, flush the directory. Readers see the old bytes or the new ones, never a mix, even across a crash. The
 * temp file is created with O_EXCL and mode 600, given the target's owner before it holds anything, and removed
 * if any step fails.
 */
export async function replaceFile(
  target: string,
  data: Uint8Array,
  owner: Ownership,
  tempPrefix: string,
  /** Called between the temp file's flush and the rename (the fence: see the provider's file comment). */
  beforeRename: (rename: () => Promise<void>) => Promise<void> = (rename) => rename(),
): Promise<void> {
  const directory = dirname(target);
  const temp = await writeTemp(directory, tempPrefix, data, owner);
  try {
    await beforeRename(async () => {
      try {
        await rename(temp, target);
      } catch (error) {
        throw new FileStepError("rename", target, error);
      }
    });
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
}

/**
 * Create `target` holding `data` (mode 600, this process's owner), unless it exists. Written to a temp file
 * first and linked into place, so `target` never exists half-written and an existing file is never replaced.
 */
export async function createFileOnce(
  target: string,
  data: Uint8Array,
  tempPrefix: string,
): Promise<"created" | "exists"> {
  const directory = dirname(target);
  const temp = await writeTemp(directory, tempPrefix, data, undefined);
  try {
    await link(temp, target);
  } catch (error) {
    if (errorCode(error) === "EEXIST") return "exists";
    throw new FileStepError("link", target, error);
  } finally {
    await rm(temp, { force: true }).catch(() => undefined);
  }
  await syncDirectory(directory);
  return "created";
}

/** Delete a file if it exists, and flush its directory. */
export async function removeFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDirectory(dirname(path));
}

/** Delete temp files whose names start with `prefix` in `directory` (left by a crash mid-write, or by a writer that lost its lock). */
export async function removeTempFiles(directory: string, prefix: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    throw error;
  }
  const stale = names.filter((name) => name.startsWith(prefix) && name.endsWith(".tmp"));
  for (const name of stale) await rm(join(directory, name), { force: true });
}

export async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync();
  } catch (error) {
    throw new FileStepError("sync-dir", directory, error);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function writeTemp(
  directory: string,
  prefix: string,
  data: Uint8Array,
  owner: Ownership | undefined,
): Promise<string> {
  const temp = join(directory, `${prefix}.${randomBytes(6).toString("hex")}.tmp`);
  let handle: FileHandle;
  try {
    // O_EXCL also refuses to follow a symlink planted at the name.
    handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    throw new FileStepError("create-temp", temp, error);
  }
  let step: FileStep = "write";
  try {
    if (owner !== undefined) {
      step = "chown";
      const created = await handle.stat();
      if (created.uid !== owner.uid || created.gid !== owner.gid) await handle.chown(owner.uid, owner.gid);
      await handle.chmod(owner.mode & 0o7777);
      step = "write";
    }
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    return temp;
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw new FileStepError(step, temp, error);
  }
}
