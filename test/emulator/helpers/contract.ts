/**
 * Holds the emulator's responses to Twilio's OpenAPI specs, read independently of the emulator's own
 * spec code: the operation is found by matching the request against the spec's path templates, the status
 * must be one the spec declares for it, and the body is validated with Ajv against the spec's response
 * schema with `$ref`s resolved from the spec itself.
 *
 * Stricter than the spec, on purpose: every declared property must be present (Twilio always returns all
 * of them, null when empty) and no undeclared property may appear, so field names cannot drift.
 *
 * Two deliberate loosenings, both where the spec disagrees with Twilio's own examples:
 * - api v2010 declares `first_page_uri`, `next_page_uri`, `uri`... as `format: uri`, yet they are relative
 *   (`/2010-04-01/...`) in the spec's examples and on Twilio. For that spec only, `uri` accepts a relative
 *   reference starting with `/`. The v1 specs keep strict absolute `uri`.
 * - `uri-map` (subresource_uris) and `phone-number-capabilities` are not formats Ajv can apply to objects;
 *   the accounts test checks the first, the capabilities' booleans are declared properties.
 *
 * The specs declare no error responses; errors are held to the body shape Twilio documents instead.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default;

/** projectRoot is three folders up from test/emulator/helpers; the specs are the project's vendored copy. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const SPEC_DIR = path.resolve(PROJECT_ROOT, "vendor/twilio-oai");

const FILES = {
  api: "twilio_api_v2010.json",
  iam: "twilio_iam_v1.json",
  accounts: "twilio_accounts_v1.json",
} as const;
type SpecId = keyof typeof FILES;

/** One HTTP exchange as the official client saw it. */
export interface Exchange {
  method: string;
  url: URL;
  status: number;
  /** Parsed JSON, or "" for an empty body. */
  body: unknown;
  headers: Record<string, string>;
}

export interface MatchedOperation {
  spec: SpecId;
  template: string;
  method: string;
  operationId: string;
}

interface Template {
  spec: SpecId;
  template: string;
  pattern: RegExp;
  literalLength: number;
}

const RFC_2822 =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Makes every object schema with declared properties closed and complete (see the file comment). */
function strictify(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) strictify(item);
    return;
  }
  if (!isObject(node)) return;
  if (node.type === "object" && isObject(node.properties)) {
    node.additionalProperties = false;
    node.required = Object.keys(node.properties);
  }
  for (const value of Object.values(node)) strictify(value);
}

function pointer(...parts: string[]): string {
  return parts.map((p) => `/${p.replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");
}

export class SpecContract {
  readonly #docs = {} as Record<SpecId, JsonObject>;
  readonly #ajv: Record<SpecId, Ajv>;
  readonly #templates: Template[] = [];
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #errorValidator: ValidateFunction;

  constructor(specDir: string = SPEC_DIR) {
    const makeAjv = (relativeUris: boolean) => {
      const ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      ajv.addFormat("date-time-rfc-2822", {
        type: "string",
        validate: (s: string) => RFC_2822.test(s) && !Number.isNaN(Date.parse(s)),
      });
      // uri-map types an object, which Ajv formats cannot check (the accounts test checks subresource_uris).
      ajv.addFormat("uri-map", true);
      // phone-number-capabilities types an object too (its four booleans are checked as properties).
      ajv.addFormat("phone-number-capabilities", true);
      ajv.addFormat("http-method", /^(GET|POST)$/);
      ajv.addFormat("phone-number", /^(\+[1-9]\d{1,14}|[a-z]+:\S+|\w{1,11})$/);
      ajv.addFormat("currency", /^[A-Z]{3}$/);
      if (relativeUris) {
        ajv.addFormat("uri", { type: "string", validate: (s: string) => /^\/\S*$/.test(s) || URL.canParse(s) });
      }
      return ajv;
    };
    this.#ajv = { api: makeAjv(true), iam: makeAjv(false), accounts: makeAjv(false) };
    for (const spec of Object.keys(FILES) as SpecId[]) {
      const doc = JSON.parse(readFileSync(path.join(specDir, FILES[spec]), "utf8")) as JsonObject;
      strictify(doc);
      this.#docs[spec] = doc;
      this.#ajv[spec].addSchema(doc, spec);
      for (const template of Object.keys(doc.paths as JsonObject)) {
        const source = template
          .split(/(\{[^}]+\})/)
          .map((part) => (/^\{[^}]+\}$/.test(part) ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
          .join("");
        this.#templates.push({
          spec,
          template,
          pattern: new RegExp(`^${source}$`),
          literalLength: template.replace(/\{[^}]+\}/g, "").length,
        });
      }
    }
    // The most literal template wins, so /Keys/{Sid}.json beats a hypothetical /{Resource}/{Sid}.json.
    this.#templates.sort((a, b) => b.literalLength - a.literalLength);
    this.#errorValidator = makeAjv(false).compile({
      type: "object",
      additionalProperties: false,
      required: ["code", "message", "more_info", "status"],
      properties: {
        code: { type: "integer" },
        message: { type: "string", minLength: 1 },
        more_info: { type: "string", format: "uri", pattern: "^https://www\\.twilio\\.com/docs/errors/\\d+$" },
        status: { type: "integer" },
      },
    });
  }

  /** The spec operation a request addresses; throws when the spec has no such path and method. */
  operationFor(method: string, pathname: string): MatchedOperation {
    const found = this.#templates.find((t) => t.pattern.test(pathname));
    if (!found) throw new Error(`no spec path matches ${pathname}`);
    const op = (this.#docs[found.spec].paths as Record<string, JsonObject>)[found.template]?.[method.toLowerCase()];
    if (!isObject(op)) throw new Error(`${FILES[found.spec]} has no ${method} ${found.template}`);
    return {
      spec: found.spec,
      template: found.template,
      method: method.toUpperCase(),
      operationId: String(op.operationId),
    };
  }

  /** Status codes the spec declares for an operation. */
  declaredStatuses(op: MatchedOperation): number[] {
    const responses = this.#operationObject(op).responses;
    return isObject(responses) ? Object.keys(responses).map(Number) : [];
  }

  /**
   * Throws, with Ajv's findings, unless the exchange conforms: a success must use a status the spec
   * declares and a body matching its schema (or no body when the spec declares none); an error must have
   * Twilio's error shape, its `status` field equal to the HTTP status, and `WWW-Authenticate` on a 401.
   */
  assertConforms(exchange: Exchange): MatchedOperation {
    const op = this.operationFor(exchange.method, exchange.url.pathname);
    const where = `${exchange.method} ${exchange.url.pathname} (${op.operationId}) -> ${exchange.status}`;
    if (exchange.status >= 400) {
      if (!this.#errorValidator(exchange.body)) {
        throw new Error(`${where}: not a Twilio error body: ${this.#ajv.api.errorsText(this.#errorValidator.errors)}`);
      }
      if ((exchange.body as { status: number }).status !== exchange.status) {
        throw new Error(`${where}: error body status differs from the HTTP status`);
      }
      if (exchange.status === 401 && exchange.headers["www-authenticate"] !== 'Basic realm="Twilio API"') {
        throw new Error(`${where}: 401 without WWW-Authenticate: Basic realm="Twilio API"`);
      }
      return op;
    }
    const declared = this.declaredStatuses(op);
    if (!declared.includes(exchange.status)) {
      throw new Error(`${where}: the spec declares only ${declared.join(", ")}`);
    }
    const validate = this.#validator(op, exchange.status);
    if (validate === undefined) {
      if (exchange.body !== "" && exchange.body !== undefined) throw new Error(`${where}: expected an empty body`);
      return op;
    }
    if (!validate(exchange.body)) {
      throw new Error(`${where}: body does not match the spec: ${this.#ajv[op.spec].errorsText(validate.errors)}`);
    }
    return op;
  }

  #operationObject(op: MatchedOperation): JsonObject {
    const paths = this.#docs[op.spec].paths as Record<string, JsonObject>;
    return paths[op.template]?.[op.method.toLowerCase()] as JsonObject;
  }

  #validator(op: MatchedOperation, status: number): ValidateFunction | undefined {
    const key = `${op.spec} ${op.method} ${op.template} ${status}`;
    if (this.#validators.has(key)) return this.#validators.get(key);
    const responses = this.#operationObject(op).responses as Record<string, JsonObject>;
    const content = responses[String(status)]?.content;
    let validate: ValidateFunction | undefined;
    if (isObject(content) && isObject(content["application/json"])) {
      const ref = pointer(
        "paths",
        op.template,
        op.method.toLowerCase(),
        "responses",
        String(status),
        "content",
        "application/json",
        "schema",
      );
      validate = this.#ajv[op.spec].compile({ $ref: `${op.spec}#${ref}` });
    }
    if (validate) this.#validators.set(key, validate);
    return validate;
  }
}

/** One instance per test file: loading and compiling the specs takes a moment. */
let shared: SpecContract | undefined;
export function specContract(): SpecContract {
  shared ??= new SpecContract();
  return shared;
}
