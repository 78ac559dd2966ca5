/**
 * Holds the server's responses, as the official SDK received them, to Azure's Key Vault secrets spec, read
 * independently of the server's own spec code (../spec.ts): the operation is found by matching the request
 * against the spec's path templates, the status must be one the spec declares for it (an error falls to the
 * spec's `default` response, `KeyVaultError`), and the body is validated with Ajv against the declared schema
 * with `$ref`s resolved from the spec itself.
 *
 * Stricter than the spec, on purpose: no undeclared property may appear in any object the spec describes, so
 * field names cannot drift; and an error body must carry `error.code` and `error.message` (the spec leaves every
 * property optional). A 401 must carry the challenge Key Vault sends.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const addFormats = addFormatsModule.default;

export const SPEC_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../../vendor/azure-keyvault-spec/secrets.json",
);

/** One HTTP exchange as the SDK saw it. */
export interface Exchange {
  method: string;
  url: URL;
  status: number;
  headers: Record<string, string>;
  /** The response body as text ("" when there is none). */
  bodyText: string;
}

export interface MatchedOperation {
  template: string;
  method: string;
  operationId: string;
}

type JsonObject = Record<string, unknown>;

const CHALLENGE = /^Bearer authorization="https:\/\/[^"]+\/[0-9a-f-]+", resource="https:\/\/vault\.azure\.net"$/;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Closes every object schema that declares properties (see the file comment). */
function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) closeObjects(item);
    return;
  }
  if (!isObject(node)) return;
  if (node.type === "object" && isObject(node.properties)) node.additionalProperties = false;
  for (const value of Object.values(node)) closeObjects(value);
}

export class KeyVaultContract {
  readonly #doc: JsonObject;
  readonly #ajv: Ajv;
  readonly #templates: Array<{ template: string; pattern: RegExp; literal: number }> = [];
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #errorShape: ValidateFunction;

  constructor(file: string = SPEC_FILE) {
    this.#doc = JSON.parse(readFileSync(file, "utf8")) as JsonObject;
    closeObjects(this.#doc);
    this.#ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 });
    this.#ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) });
    this.#ajv.addFormat("base64url", /^[A-Za-z0-9_-]*$/);
    this.#ajv.addSchema(this.#doc, "spec");
    for (const template of Object.keys(this.#doc.paths as JsonObject)) {
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) =>
          part === "{secret-version}"
            ? "[^/]*"
            : /^\{[^}]+\}$/.test(part)
              ? "[^/]+"
              : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("");
      this.#templates.push({
        template,
        pattern: new RegExp(`^${source}$`),
        literal: template.replace(/\{[^}]+\}/g, "").length,
      });
    }
    this.#templates.sort((a, b) => b.literal - a.literal);
    this.#errorShape = this.#ajv.compile({
      type: "object",
      required: ["error"],
      properties: { error: { type: "object", required: ["code", "message"] } },
    });
  }

  operationFor(method: string, pathname: string): MatchedOperation {
    const paths = this.#doc.paths as Record<string, JsonObject>;
    for (const { template, pattern } of this.#templates) {
      if (!pattern.test(pathname)) continue;
      const op = paths[template]?.[method.toLowerCase()];
      if (isObject(op)) return { template, method: method.toUpperCase(), operationId: String(op.operationId) };
    }
    throw new Error(`the spec has no ${method} operation for ${pathname}`);
  }

  /** Throws, with Ajv's findings, unless the exchange conforms to the spec (see the file comment). */
  assertConforms(exchange: Exchange): MatchedOperation {
    const op = this.operationFor(exchange.method, exchange.url.pathname);
    const where = `${exchange.method} ${exchange.url.pathname} (${op.operationId}) -> ${exchange.status}`;
    if (exchange.url.searchParams.get("api-version") !== String((this.#doc.info as JsonObject).version)) {
      throw new Error(`${where}: the request did not carry api-version ${(this.#doc.info as JsonObject).version}`);
    }
    const responses = ((this.#doc.paths as Record<string, Record<string, JsonObject>>)[op.template]?.[
      op.method.toLowerCase()
    ]?.responses ?? {}) as JsonObject;
    const declared = Object.hasOwn(responses, String(exchange.status));
    const key = declared ? String(exchange.status) : "default";
    if (!declared && exchange.status < 400) {
      throw new Error(`${where}: the spec declares ${Object.keys(responses).join(", ")} only`);
    }
    const body = exchange.bodyText === "" ? undefined : JSON.parse(exchange.bodyText);
    const schema = (responses[key] as JsonObject | undefined)?.schema;
    if (schema === undefined) {
      if (body !== undefined) throw new Error(`${where}: the spec declares no body, yet one came`);
      return op;
    }
    const validate = this.#validator(op, key);
    if (!validate(body))
      throw new Error(`${where}: the body does not match the spec: ${this.#ajv.errorsText(validate.errors)}`);
    if (key === "default") {
      if (!this.#errorShape(body)) throw new Error(`${where}: an error body without error.code and error.message`);
      if (exchange.status === 401 && !CHALLENGE.test(exchange.headers["www-authenticate"] ?? "")) {
        throw new Error(`${where}: a 401 without Key Vault's challenge: ${exchange.headers["www-authenticate"]}`);
      }
    }
    return op;
  }

  /** The validator for one declared response of an operation (for a test that checks a body directly). */
  validatorFor(op: MatchedOperation, status: string): (body: unknown) => string | undefined {
    const validate = this.#validator(op, status);
    return (body) => (validate(body) ? undefined : this.#ajv.errorsText(validate.errors));
  }

  #validator(op: MatchedOperation, key: string): ValidateFunction {
    const id = `${op.method} ${op.template} ${key}`;
    let validate = this.#validators.get(id);
    if (validate === undefined) {
      const pointer = ["paths", op.template, op.method.toLowerCase(), "responses", key, "schema"]
        .map((part) => part.replace(/~/g, "~0").replace(/\//g, "~1"))
        .join("/");
      validate = this.#ajv.compile({ $ref: `spec#/${pointer}` });
      this.#validators.set(id, validate);
    }
    return validate;
  }
}
