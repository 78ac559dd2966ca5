/**
 * Masking for identifiers shown to people (`SK…a1b2`) and a last line of defence against secrets reaching
 * any output: every secret the process learns is registered, and everything rotator writes to stdout,
 * stderr or the journal goes through `redact`.
 */

/** `SKxxxxxxxx…a1b2`: the type prefix and the last four characters, enough to tell keys apart. */
export function maskSid(sid: string | undefined): string {
  if (sid === undefined || sid.length === 0) return "(none)";
  if (sid.length <= 8) return "…";
  return `${sid.slice(0, 2)}…${sid.slice(-4)}`;
}

const secrets = new Set<string>();

/** Remember a secret value so that `redact` removes it from anything written out. Short values are ignored. */
export function registerSecret(value: string | undefined): void {
  // Shorter values would redact ordinary words; Twilio secrets and tokens are 32 characters, and a bearer
  // token shorter than 8 characters protects nothing anyway.
  if (value !== undefined && value.length >= 8) secrets.add(value);
}

/**
 * Credential-bearing headers, however an SDK's error or debug line quotes them: `X-Amz-Security-Token: v`,
 * `"x-amz-security-token": "v"`, `Authorization: Basic v`, `X-Vault-Token=v`. Their values are secrets that
 * rotator never registered (they come from the environment's credential chains), so they are cut by shape.
 */
const CREDENTIAL_HEADER =
  /(["']?\b(?:x-amz-security-token|authorization|proxy-authorization|x-vault-token|x-api-key|x-ms-authorization-auxiliary)["']?\s*[:=]\s*["']?)((?:basic|bearer|token)\s+)?([^"'\s,;})\]]+)/gi;

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("[REDACTED]");
  }
  return out.replace(
    CREDENTIAL_HEADER,
    (_match, name: string, scheme: string | undefined) => `${name}${scheme ?? ""}[REDACTED]`,
  );
}

/** For tests: forget registered secrets. */
export function clearRegisteredSecrets(): void {
  secrets.clear();
}
