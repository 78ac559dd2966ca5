/**
 * Errors that end a command, each with the exit code the CLI documents. Messages say what is wrong, where
 * (config path, store name) and how to fix it, and never contain a secret value.
 */

export const ExitCode = {
  completed: 0,
  internal: 1,
  badInput: 2,
  rolledBack: 3,
  awaitingConsumers: 4,
  locked: 5,
  unfinishedRun: 6,
  needsOperator: 7,
  /** Declined at the confirmation prompt: a cancellation, not an error; nothing was changed. */
  cancelled: 8,
  /** Stopped by SIGINT or SIGTERM (128 + 2, as shells report Ctrl-C). */
  interrupted: 130,
} as const;

/** What a result cancelled at the prompt (status `cancelled`, exit `ExitCode.cancelled`) says to do next. */
export const DECLINED_NEXT = "run the command again and answer y to go ahead (or pass --yes)";

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class RotatorError extends Error {
  override readonly name: string = "RotatorError";
  readonly exitCode: ExitCodeValue;
  /** What the user can do about it, shown on its own line. */
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode: ExitCodeValue; hint?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options.exitCode;
    this.hint = options.hint;
  }
}

/** The config file or a value it references is wrong; nothing was changed. */
export class ConfigError extends RotatorError {
  override readonly name = "ConfigError";
  /** One line per problem: `path.to.field: what is wrong`. */
  readonly problems: string[];

  constructor(file: string, problems: string[], hint?: string) {
    super(`invalid config ${file}:\n  - ${problems.join("\n  - ")}`, {
      exitCode: ExitCode.badInput,
      ...(hint === undefined ? {} : { hint }),
    });
    this.problems = problems;
  }
}

/** A check before any change failed (admin credential, store access, drift); nothing was changed. */
export class PreflightError extends RotatorError {
  override readonly name = "PreflightError";
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`preflight failed, nothing was changed:\n  - ${problems.join("\n  - ")}`, { exitCode: ExitCode.badInput });
    this.problems = problems;
  }
}

/** A signal stopped the command before it changed anything, or the operator declined to go on. */
export class InterruptedError extends RotatorError {
  override readonly name = "InterruptedError";
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.interrupted, ...(hint === undefined ? {} : { hint }) });
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
