/**
 * The port through which the store layer learns which credential types exist: a store entry's `fields:` may
 * rename a field of any of them, and its names must keep them all apart. The store layer never imports the
 * credential types (src/credentials/); their registry fills this port when it loads, and the store entries'
 * schemas read it when a config is first parsed, so a type a plug-in registers after import is in it.
 */
import type { CredentialLayout } from "./contract.js";

let source: (() => readonly CredentialLayout[]) | undefined;

/** Called once, by the credential registry: where the layouts of every registered type come from. */
export function provideCredentialLayouts(layouts: () => readonly CredentialLayout[]): void {
  source = layouts;
}

/** The layout of every registered credential type, built-in ones first. */
export function credentialLayouts(): readonly CredentialLayout[] {
  if (source === undefined) {
    throw new Error(
      "no credential types reached the store layer: load src/credentials/registry.ts (the config schema does) " +
        "before parsing a store entry",
    );
  }
  return source();
}
