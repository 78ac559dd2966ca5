/**
 * Packages rotator leaves to whoever needs them: each store type's SDK and `pg` (state on PostgreSQL) are
 * optional peer dependencies, so an app embedding `rotator/consumer` for a dotenv file installs none of them,
 * and a host runs the CLI with the SDKs of the stores its configs name. This says how to install one.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MissingPackageError } from "../../providers/errors.js";
import { ExitCode, RotatorError } from "../errors.js";
import { packageRoot } from "./package-root.js";

interface PackageJson {
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** The install commands for `name`, at the version rotator is tested with (package.json's devDependencies). */
export function installHint(name: string): string {
  let spec = name;
  let accepted = "";
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as PackageJson;
    const tested = pkg.devDependencies?.[name];
    if (tested !== undefined) spec = `${name}@${tested}`;
    const range = pkg.peerDependencies?.[name];
    if (range !== undefined) accepted = ` (rotator works with ${name} ${range})`;
  } catch {
    // Bundled into an app, rotator has no package.json of its own to read: the name alone still says it.
  }
  return (
    `install it beside rotator: \`npm install ${spec}\` in the project that depends on rotator, or ` +
    `\`npm install -g ${spec}\` where rotator is installed globally${accepted}`
  );
}

/** A MissingPackageError as the CLI reports it: bad input (exit 2), with the install commands as its hint. */
export function missingPackageAsBadInput(error: unknown): never {
  if (error instanceof MissingPackageError) {
    throw new RotatorError(error.message, {
      exitCode: ExitCode.badInput,
      hint: `${installHint(error.packageName)}; nothing was changed`,
      cause: error,
    });
  }
  throw error;
}
