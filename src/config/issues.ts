/**
 * Turning Zod's issues into lines a user fixes the file from: `path: what is wrong; what to do`. Zod's own
 * wording ("Invalid input") names neither; here a union says which forms it accepts (or, when only one form
 * fits the keys given, what is wrong inside it), an unknown key gets "did you mean", a discriminator lists
 * the known types, and a wrong type says what was expected. Values are never quoted except a short `type`
 * given by the user, and anything shaped like a secret is masked, keys included.
 */
import * as z from "zod";
import { HIDDEN, looksLikeSecret, maskTokenLike } from "./excerpt.js";
import { closest } from "./suggest.js";

type Path = ReadonlyArray<PropertyKey>;
type Issue = z.core.$ZodIssue;

/**
 * `stores[1].path`, the way a user finds it in their file; a key shaped like a secret is masked. A key the
 * user chose (a header name: the positions in `userKeys`) is written `headers["Authorization"]`, which also
 * keeps `Authorization: ...` out of the message, where the output's header redaction would eat the next word.
 */
export function formatPath(path: Path, userKeys: ReadonlySet<number> = new Set()): string {
  let out = "";
  for (const [index, part] of path.entries()) {
    const name = looksLikeSecret(String(part)) ? HIDDEN : String(part);
    if (typeof part === "number") out += `[${part}]`;
    else if (userKeys.has(index)) out += `[${JSON.stringify(name)}]`;
    else out += out === "" ? name : `.${name}`;
  }
  return out === "" ? "(top level)" : out;
}

/**
 * One line per problem. `schema` and `input` (the parsed file) let an unknown key be matched against the
 * keys allowed at its place, and a discriminator's value be named.
 */
export function formatIssues(
  issues: ReadonlyArray<Issue>,
  context: { schema?: z.core.$ZodType; input?: unknown } = {},
): string[] {
  return issues.flatMap((issue) => resolveUnion(issue)).flatMap((issue) => describe(issue, context));
}

/**
 * A union's issue, replaced by the issues of the one form the user evidently meant: the only form whose
 * every issue lies inside it (no unknown key and no wrong type at the union's own level). With no such form,
 * or several, the union's own message stands, which says which forms are accepted.
 */
function resolveUnion(issue: Issue): Issue[] {
  if (issue.code !== "invalid_union" || issue.errors.length === 0 || issue.discriminator !== undefined) return [issue];
  const fitting = issue.errors.filter((branch) => branch.length > 0 && branch.every((inner) => inner.path.length > 0));
  const [only] = fitting;
  if (fitting.length !== 1 || only === undefined) return [issue];
  return only.flatMap((inner) => resolveUnion({ ...inner, path: [...issue.path, ...inner.path] }));
}

function describe(issue: Issue, context: { schema?: z.core.$ZodType; input?: unknown }): string[] {
  const userKeys =
    context.schema === undefined ? new Set<number>() : walk(context.schema, issue.path, context.input).recordKeys;
  const where = formatPath(issue.path, userKeys);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (key) => `${formatPath([...issue.path, key], userKeys)}: ${unknownKey(key, issue.path, context)}`,
    );
  }
  if (issue.code === "invalid_union" && issue.discriminator !== undefined && "options" in issue) {
    return [`${where}: ${unknownDiscriminator(issue.path, issue.options ?? [], context.input)}`];
  }
  if (issue.path.length === 0 && issue.code === "invalid_type" && (context.input ?? null) === null) {
    return ["(top level): the file is empty; `rotator init` writes a commented config to start from"];
  }
  if (issue.code === "invalid_union" && issue.message === "Invalid input") {
    return [`${where}: does not match any accepted form; see config/rotator.schema.json`];
  }
  return [`${where}: ${issue.message}`];
}

function unknownKey(key: string, path: Path, context: { schema?: z.core.$ZodType; input?: unknown }): string {
  if (looksLikeSecret(key)) {
    return (
      "unknown key that looks like a secret value (32+ letters and digits); remove it: secret values never go " +
      "in the config (rotate that credential if this file was shared)"
    );
  }
  if (context.schema === undefined) return "unknown key; remove it or check its spelling";
  const forms = objectForms(context.schema, path, context.input);
  const allowed = [...new Set(forms.flat())];
  if (allowed.includes(key)) {
    // Known in another form of a union (say apiKeySid next to authToken): the two do not go together.
    const list = forms.map((form) => `{ ${form.join(", ")} }`).join(" or ");
    return `does not go with the other keys given here; use one of the forms ${list}`;
  }
  const suggestion = closest(key, allowed);
  if (suggestion !== undefined) return `unknown key; did you mean ${suggestion}?`;
  if (allowed.length > 0 && allowed.length <= 12) return `unknown key; the keys allowed here are ${allowed.join(", ")}`;
  return "unknown key; remove it or check its spelling";
}

function unknownDiscriminator(path: Path, options: ReadonlyArray<unknown>, input: unknown): string {
  const known = options.map(String);
  const key = String(path.at(-1) ?? "type");
  const owner = [...path].reverse().find((part, index) => index > 0 && typeof part === "string");
  const noun = `${owner === undefined ? "" : `${String(owner).replace(/s$/, "")} `}${key}`;
  const given = valueAt(input, path);
  if (given === undefined || given === null) return `missing: give the ${noun}, one of ${known.join(", ")}`;
  const shown = typeof given === "string" ? JSON.stringify(maskTokenLike(given).slice(0, 40)) : typeOf(given);
  const suggestion = typeof given === "string" ? closest(given, known) : undefined;
  return (
    `${shown} is not a known ${noun}; use one of ${known.join(", ")}` +
    (suggestion === undefined ? "" : ` (did you mean ${suggestion}?)`)
  );
}

function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

/**
 * The key lists of the object schemas that can stand at `path`: one for a plain object, one per form of a
 * union (only the matching form of a discriminated union whose discriminator the input gives).
 */
function objectForms(schema: z.core.$ZodType, path: Path, input: unknown): string[][] {
  return walk(schema, path, input)
    .schemas.filter((candidate) => candidate instanceof z.ZodObject)
    .map((object) => Object.keys(object.shape));
}

/** The schemas that can stand at `path`, and which of its positions are record keys (chosen by the user). */
function walk(
  schema: z.core.$ZodType,
  path: Path,
  input: unknown,
): { schemas: z.core.$ZodType[]; recordKeys: Set<number> } {
  let current = alternatives(schema, input);
  let value = input;
  const recordKeys = new Set<number>();
  for (const [index, part] of path.entries()) {
    value = valueAt(value, [part]);
    const next: z.core.$ZodType[] = [];
    for (const candidate of current) {
      if (candidate instanceof z.ZodObject && typeof part === "string") {
        const child = candidate.shape[part];
        if (child !== undefined) next.push(child);
      } else if (candidate instanceof z.ZodArray && typeof part === "number") {
        next.push(candidate.element);
      } else if (candidate instanceof z.ZodRecord) {
        recordKeys.add(index);
        next.push(candidate.valueType);
      }
    }
    current = next.flatMap((child) => alternatives(child, value));
  }
  return { schemas: current, recordKeys };
}

/** The concrete schemas a value at this place is checked against, wrappers (optional, default, ...) removed. */
function alternatives(schema: z.core.$ZodType, value: unknown): z.core.$ZodType[] {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault
  ) {
    return alternatives(schema.unwrap(), value);
  }
  if (schema instanceof z.ZodPipe) return alternatives(schema.in, value);
  if (schema instanceof z.ZodUnion) {
    const options = schema.options;
    if (schema instanceof z.ZodDiscriminatedUnion) {
      const given = valueAt(value, [schema.def.discriminator]);
      const matching = options.filter((option) => discriminatorValues(option, schema.def.discriminator).has(given));
      if (matching.length > 0) return matching.flatMap((option) => alternatives(option, value));
    }
    return options.flatMap((option) => alternatives(option, value));
  }
  return [schema];
}

function discriminatorValues(option: z.core.$ZodType, discriminator: string): Set<unknown> {
  const object = alternatives(option, undefined).find((candidate) => candidate instanceof z.ZodObject);
  const field = object instanceof z.ZodObject ? object.shape[discriminator] : undefined;
  return field instanceof z.ZodLiteral ? new Set(field.values) : new Set();
}

function typeOf(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return "text";
    case "number":
      return "a number";
    case "boolean":
      return "true/false";
    case "object":
      return "a mapping";
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
};

/**
 * The per-parse error map: Zod's generic messages restated as what is expected. Schema-level messages (the
 * SIDs, env references, URLs) take precedence; this never quotes the value, only its kind.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `missing: this key is required (${expected})`;
      if (issue.expected === "int" && typeof issue.input === "number") return "must be a whole number";
      return `must be ${expected}, not ${typeOf(issue.input)}`;
    }
    case "invalid_value": {
      const values = issue.values.map((value) => String(value));
      const suggestion = typeof issue.input === "string" ? closest(issue.input, values) : undefined;
      const list = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(", ")}`;
      return suggestion === undefined ? list : `${list} (did you mean ${suggestion}?)`;
    }
    case "too_small":
      if (issue.origin === "string") return Number(issue.minimum) <= 1 ? "must not be empty" : undefined;
      if (issue.origin === "array") return `must list at least ${issue.minimum}`;
      return `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}`;
    case "too_big":
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      if (issue.origin === "array") return `must list at most ${issue.maximum}`;
      return `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
    default:
      return undefined;
  }
};
