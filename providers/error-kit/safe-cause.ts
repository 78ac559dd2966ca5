/**
 * The `cause` a StoreError carries in place of an SDK's own error. An SDK error keeps the request (its headers hold
 * the token, its body the secret being written) and the response (its body, for a read, the secret) within reach of
 * anything that logs or inspects it in depth, and its message may quote a body it could not parse. A SafeCause is
 * built from fields picked one by one, never holds the error it summarises (no `cause`), and keeps its message to
 * one line; each provider's subclass says which of its SDK's fields are safe to show.
 */
export abstract class SafeCause extends Error {
  /** Always undefined: what this summarises is exactly what must not ride along. */
  declare readonly cause: undefined;

  protected constructor(message: string) {
    super(oneLine(message));
  }
}

/** `value[key]` of an unknown value, without throwing on a non-object. */
export function property(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** A non-empty string, else undefined. */
export function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** `text`'s first line, at most `max` characters: enough to say what happened, too little to carry a body. */
export function firstLine(text: string, max = 300): string {
  const line = (text.split(/\r?\n/, 1)[0] ?? "").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Several lines as one (`; `-joined), at most `max` characters: Key Vault's RBAC denials span lines. */
export function oneLine(text: string, max = 600): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ")
    .slice(0, max);
}
