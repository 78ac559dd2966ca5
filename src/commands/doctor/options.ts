/** `rotator doctor`'s parsed options: apart from command.ts, which loads run.ts (that needs them) on demand. */
export interface DoctorCommandOptions {
  config?: string;
  stateDir?: string;
  /** Not `--env-file`: node reads that option itself (bin/rotator.js says how). */
  dotenv?: string;
  env?: boolean;
  baseUrl?: string;
  offline?: boolean;
  json?: boolean;
  color?: boolean;
}
