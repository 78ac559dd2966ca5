/**
 * Per-account templates: in a fleet config (one with `accounts:`), every string under `stores:` and
 * `consumers:` may name the account it is expanded for, as `{accountSid}` or `{friendlyName}`
 * (`secretId: twilio/{accountSid}`, `path: /etc/app/{accountSid}.env`, `url: http://{friendlyName}.internal/`).
 * `{{` and `}}` stand for literal braces (a shell's `${HOME}` is written `${{HOME}}`).
 *
 * Placeholders are checked when the config is loaded: an unknown one is bad input naming it and where it
 * is, before anything runs. Each account's stores and consumers are then the template with its values
 * filled in, validated like any config's (a value an account's name makes invalid fails that account only).
 */
import { closest } from "../config/suggest.js";

export const PLACEHOLDERS = ["accountSid", "friendlyName"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
export type PlaceholderValues = Record<Placeholder, string>;

/** The sections whose strings are templates. */
export const TEMPLATED_SECTIONS = ["stores", "consumers"] as const;

/** Values that stand in for any account when the template's shape is validated at load. */
export const SAMPLE_VALUES: PlaceholderValues = { accountSid: `AC${"0".repeat(32)}`, friendlyName: "example" };

const TOKEN = /\{\{|\}\}|\{([^{}]*)\}/g;

/** The placeholders one string names (known or not), in order. */
export function placeholdersIn(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(TOKEN)) if (match[1] !== undefined) names.push(match[1]);
  return names;
}

export function expandString(text: string, values: PlaceholderValues): string {
  return text.replace(TOKEN, (token, name: string | undefined) => {
    if (token === "{{") return "{";
    if (token === "}}") return "}";
    const value = values[name as Placeholder];
    if (value === undefined) throw new Error(`unknown placeholder {${name}}`);
    return value;
  });
}

/** The template with the values filled into every string (keys are left alone). */
export function expandTemplate<T>(value: T, values: PlaceholderValues): T {
  if (typeof value === "string") return expandString(value, values) as T;
  if (Array.isArray(value)) return value.map((item) => expandTemplate(item, values)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, expandTemplate(item, values)]),
    ) as T;
  }
  return value;
}

export interface PlaceholderUse {
  /** `stores[0].path`. */
  path: string;
  name: string;
}

/** Every placeholder the templated sections of a raw config name, with where. */
export function placeholderUses(raw: Record<string, unknown>): PlaceholderUse[] {
  const uses: PlaceholderUse[] = [];
  const walk = (value: unknown, path: string) => {
    if (typeof value === "string") {
      for (const name of placeholdersIn(value)) uses.push({ path, name });
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) walk(item, `${path}[${index}]`);
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) walk(item, `${path}.${key}`);
    }
  };
  for (const section of TEMPLATED_SECTIONS) walk(raw[section], section);
  return uses;
}

/**
 * Problems with the placeholders of a raw config, one line each (`path: what`): in a fleet config, names
 * that are not placeholders; in a config without `accounts:`, placeholders, which only a fleet fills in.
 */
export function placeholderProblems(raw: Record<string, unknown>, fleet: boolean): string[] {
  const problems: string[] = [];
  for (const { path, name } of placeholderUses(raw)) {
    const known = (PLACEHOLDERS as readonly string[]).includes(name);
    if (fleet && !known) {
      const near = closest(name, PLACEHOLDERS);
      problems.push(
        `${path}: unknown placeholder {${name}}${near === undefined ? "" : ` (did you mean {${near}}?)`}; the placeholders are ${PLACEHOLDERS.map((p) => `{${p}}`).join(" and ")}, and {{ }} write literal braces`,
      );
    } else if (!fleet && known) {
      problems.push(
        `${path}: {${name}} is filled in per account only in a fleet config (one with accounts:); add an accounts: section, or write the value itself`,
      );
    }
  }
  return problems;
}

/** Whether the templates need each account's friendly name (which the list of accounts does not give). */
export function usesFriendlyName(raw: Record<string, unknown>): boolean {
  return placeholderUses(raw).some((use) => use.name === "friendlyName");
}
