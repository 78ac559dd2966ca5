/**
 * Twilio's own OpenAPI specs, read at start-up: they are the emulator's contract.
 *
 * The emulator takes from them, rather than from hand-copied lists, the success status of each operation,
 * the parameters and their constraints (SID patterns, PageSize bounds, enums, required fields), and the
 * field names of every response body (see `shape`), so the emulator cannot drift from the spec silently:
 * a route the spec lacks, or a response field the spec does not declare, fails loudly.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export type SpecName = "api" | "iam" | "accounts";

export const SPEC_FILES: Readonly<Record<SpecName, string>> = {
  api: "twilio_api_v2010.json",
  iam: "twilio_iam_v1.json",
  accounts: "twilio_accounts_v1.json",
};

export type HttpMethod = "GET" | "POST" | "DELETE";

/** The subset of JSON Schema (OpenAPI 3.0 flavour) that Twilio's specs use for these operations. */
export interface SchemaObject {
  $ref?: string;
  type?: string;
  nullable?: boolean;
  format?: string;
  properties?: Record<string, SchemaObject>;
  items?: SchemaObject;
  required?: string[];
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
}

interface ParameterObject {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: SchemaObject;
}

interface MediaObject {
  schema?: SchemaObject;
  examples?: Record<string, { value?: unknown }>;
}

interface OperationObject {
  operationId?: string;
  parameters?: ParameterObject[];
  requestBody?: { content?: Record<string, MediaObject> };
  responses?: Record<string, { content?: Record<string, MediaObject> }>;
}

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Partial<Record<"get" | "post" | "delete", OperationObject>>>;
  components?: { schemas?: Record<string, SchemaObject> };
}

export type ParamLocation = "path" | "query" | "body";

export interface ParamSpec {
  name: string;
  in: ParamLocation;
  required: boolean;
  /** With `$ref`s resolved, so validators need no access to the document. */
  schema: SchemaObject;
}

export interface Operation {
  spec: SpecName;
  path: string;
  method: HttpMethod;
  operationId: string;
  /** The one 2xx status the spec declares for the operation. */
  successStatus: number;
  params: ParamSpec[];
  /** Undefined for bodiless responses (204). */
  responseSchema: SchemaObject | undefined;
  /** The first example body the spec gives for the success response, if any. */
  example: unknown;
}

/** The folder holding package.json above `from` (this file lives in src/emulator or dist/src/emulator). */
export function findProjectRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`twilio emulator: no package.json above ${from}`);
    dir = parent;
  }
}

/** The Twilio OpenAPI specs the emulator is held to. */
export function defaultSpecDir(): string {
  // The project's own copy (vendor/, MIT; see vendor/twilio-oai/SOURCE.md), shipped with the package so the
  // sandbox works from an installed rotator. Nothing outside the package is ever consulted.
  return path.resolve(findProjectRoot(), "vendor/twilio-oai");
}

export class TwilioSpecs {
  static readonly #cache = new Map<string, TwilioSpecs>();
  readonly dir: string;
  readonly #docs: Record<SpecName, OpenApiDocument>;

  private constructor(dir: string, docs: Record<SpecName, OpenApiDocument>) {
    this.dir = dir;
    this.#docs = docs;
  }

  /** Loads (once per process and folder) the three spec files; throws naming the folder if one is missing. */
  static load(dir: string = defaultSpecDir()): TwilioSpecs {
    const resolved = path.resolve(dir);
    const cached = TwilioSpecs.#cache.get(resolved);
    if (cached) return cached;
    const read = (name: SpecName): OpenApiDocument => {
      const file = path.join(resolved, SPEC_FILES[name]);
      if (!existsSync(file)) {
        throw new Error(
          `twilio emulator: Twilio OpenAPI spec ${SPEC_FILES[name]} not found in ${resolved}; ` +
            "put the twilio-oai specs there or pass specDir",
        );
      }
      const doc = JSON.parse(readFileSync(file, "utf8")) as Partial<OpenApiDocument>;
      if (typeof doc.openapi !== "string" || doc.paths === undefined || typeof doc.paths !== "object") {
        throw new Error(`twilio emulator: ${file} is not an OpenAPI document`);
      }
      return doc as OpenApiDocument;
    };
    const specs = new TwilioSpecs(resolved, { api: read("api"), iam: read("iam"), accounts: read("accounts") });
    TwilioSpecs.#cache.set(resolved, specs);
    return specs;
  }

  /** Methods the spec declares for a path (upper case), or [] when the spec has no such path. */
  methods(spec: SpecName, specPath: string): HttpMethod[] {
    const item = this.#docs[spec].paths[specPath];
    if (!item) return [];
    return (["get", "post", "delete"] as const).filter((m) => item[m] !== undefined).map(upper);
  }

  operation(spec: SpecName, specPath: string, method: HttpMethod): Operation {
    const op = this.#docs[spec].paths[specPath]?.[lower(method)];
    const where = `${method} ${specPath} in ${SPEC_FILES[spec]}`;
    if (!op) throw new Error(`twilio emulator: the spec has no ${where}`);
    const successes = Object.keys(op.responses ?? {}).filter((status) => /^2\d\d$/.test(status));
    if (successes.length !== 1 || successes[0] === undefined) {
      throw new Error(
        `twilio emulator: expected one 2xx response for ${where}, found ${successes.join(", ") || "none"}`,
      );
    }
    const successStatus = Number(successes[0]);
    const params: ParamSpec[] = [];
    for (const p of op.parameters ?? []) {
      if (p.in !== "path" && p.in !== "query") continue;
      params.push({
        name: p.name,
        in: p.in,
        required: p.required === true,
        schema: this.resolve(spec, p.schema ?? {}),
      });
    }
    const form = op.requestBody?.content?.["application/x-www-form-urlencoded"]?.schema;
    if (form) {
      const body = this.resolve(spec, form);
      const required = new Set(body.required ?? []);
      for (const [name, schema] of Object.entries(body.properties ?? {})) {
        params.push({ name, in: "body", required: required.has(name), schema: this.resolve(spec, schema) });
      }
    }
    const media = op.responses?.[String(successStatus)]?.content?.["application/json"];
    const example = Object.values(media?.examples ?? {})[0]?.value;
    return {
      spec,
      path: specPath,
      method,
      operationId: op.operationId ?? where,
      successStatus,
      params,
      responseSchema: media?.schema,
      example,
    };
  }

  /** Follows a `$ref` (and merges keywords written beside it, as Twilio does for enums). */
  resolve(spec: SpecName, schema: SchemaObject): SchemaObject {
    let current = schema;
    for (let depth = 0; current.$ref !== undefined; depth++) {
      if (depth > 20) throw new Error(`twilio emulator: $ref loop at ${current.$ref}`);
      const { $ref, ...siblings } = current;
      const name = /^#\/components\/schemas\/(.+)$/.exec($ref)?.[1];
      const target = name === undefined ? undefined : this.#docs[spec].components?.schemas?.[name];
      if (!target) throw new Error(`twilio emulator: cannot resolve ${$ref} in ${SPEC_FILES[spec]}`);
      current = { ...siblings, ...target };
    }
    return current;
  }

  /**
   * Builds a response body with exactly the fields the spec declares, in the spec's order. A field the
   * handler left out becomes null when the spec allows null; a field the spec lacks, or a missing
   * non-nullable one, is an emulator bug and throws.
   */
  shape(op: Operation, value: unknown): unknown {
    if (!op.responseSchema) throw new Error(`twilio emulator: ${op.operationId} has no response body in the spec`);
    return this.#shape(op.spec, op.responseSchema, value, op.operationId);
  }

  #shape(spec: SpecName, raw: SchemaObject, value: unknown, where: string): unknown {
    const schema = this.resolve(spec, raw);
    if (value === null || value === undefined) {
      if (schema.nullable) return null;
      throw new Error(`twilio emulator: ${where} is required by the spec but missing`);
    }
    if (schema.properties) {
      if (!isRecord(value)) throw new Error(`twilio emulator: ${where} must be an object per the spec`);
      for (const key of Object.keys(value)) {
        if (!(key in schema.properties)) throw new Error(`twilio emulator: ${where}.${key} is not in the spec`);
      }
      const out: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(schema.properties)) {
        out[key] = this.#shape(spec, child, value[key], `${where}.${key}`);
      }
      return out;
    }
    if (schema.type === "array" && schema.items && Array.isArray(value)) {
      const items = schema.items;
      return value.map((item, i) => this.#shape(spec, items, item, `${where}[${i}]`));
    }
    return value;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function lower(method: HttpMethod): "get" | "post" | "delete" {
  return method.toLowerCase() as "get" | "post" | "delete";
}

function upper(method: "get" | "post" | "delete"): HttpMethod {
  return method.toUpperCase() as HttpMethod;
}
