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

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join("[REDACTED]");
  }
  return out;
}

/** For tests: forget registered secrets. */
export function clearRegisteredSecrets(): void {
  secrets.clear();
}
