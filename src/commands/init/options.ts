/** `rotator init`'s parsed options: apart from command.ts, which loads run.ts (that needs them) on demand. */
import type { CREDENTIAL_TYPES } from "./store-types.js";

export interface InitCommandOptions {
  credential: (typeof CREDENTIAL_TYPES)[number];
  output: string;
  force?: boolean;
}
