/** `rotator validate`'s parsed options: apart from command.ts, which loads run.ts (that needs them) on demand. */
export interface ValidateCommandOptions {
  config?: string;
  json?: boolean;
  color?: boolean;
  requireEnv?: boolean;
}
