/**
 * What the sandbox can rotate (`--sandbox --credential TYPE`). Free of imports: the commands' option lists
 * load it for `--help` and shell completion.
 */
export const SANDBOX_CREDENTIAL_TYPES = ["api-key", "auth-token"] as const;

export type SandboxCredentialType = (typeof SANDBOX_CREDENTIAL_TYPES)[number];

export interface SandboxOptions {
  /** Where its journal goes (default: inside its temporary directory, removed with it). */
  stateDir?: string | undefined;
  /** What it rotates; default api-key. */
  credential?: SandboxCredentialType | undefined;
}
