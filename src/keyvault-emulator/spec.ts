/**
 * Azure's Key Vault secrets REST spec (vendor/azure-keyvault-spec/secrets.json), read when the server starts:
 * it is the server's contract. From it come the routes (path templates and methods, by operationId), the
 * api-version every request must carry, the secret-name pattern, the `maxresults` bounds, the request body
 * schemas (checked with Ajv) and the permission each operation needs (the spec's "This operation requires the
 * secrets/<p> permission"). A route the spec lacks is never served.
 *
 * The contract tests check the other direction, the server's responses against the spec's response schemas,
 * with a validator of their own (helpers/contract.ts).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Ajv, ValidateFunction } from "ajv";
import { schemaValidator } from "../server-kit/schema.js";
import { compilePathTemplate, SpecRouter } from "../server-kit/spec-router.js";
import { packageRoot } from "../util/package-root.js";

/** The vendored spec, in the package (also when this runs bundled, or installed). */
export const SPEC_FILE = path.join(packageRoot(import.meta.url), "vendor/azure-keyvault-spec/secrets.json");

export type HttpMethod = "GET" | "PUT" | "PATCH" | "POST" | "DELETE";

/** What the spec says a caller needs: `secrets/<permission>`. */
export type Permission = "get" | "list" | "set" | "delete" | "recover" | "backup" | "restore" | "purge";
export const PERMISSIONS: readonly Permission[] = [
  "get",
  "list",
  "set",
  "delete",
  "recover",
  "backup",
  "restore",
  "purge",
];

export interface SpecOperation {
  operationId: string;
  method: HttpMethod;
  template: string;
  permission: Permission;
  /** `maxresults` bounds, for the list operations. */
  maxResults: { minimum: number; maximum: number } | undefined;
  /** The definition the request body must match, e.g. `SecretSetParameters`. */
  bodyDefinition: string | undefined;
}

export interface RouteMatch {
  operation: SpecOperation;
  params: Record<string, string>;
}

type JsonObject = Record<string, unknown>;

/** The spec types every attribute time as `integer` with `format: unixtime`; Ajv needs the formats declared. */
export function makeAjv(): Ajv {
  return schemaValidator({
    unixtime: { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 },
    int32: { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 },
    base64url: /^[A-Za-z0-9_-]*$/,
  });
}

export class KeyVaultSpec {
  readonly document: JsonObject;
  /** `info.version`: the only api-version the server answers. */
  readonly apiVersion: string;
  /** The secret-name pattern of SetSecret, with Key Vault's length limit of 127. */
  readonly secretName: RegExp;
  readonly #router = new SpecRouter<SpecOperation>();
  readonly #ajv = makeAjv();
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(file: string = SPEC_FILE) {
    this.document = JSON.parse(readFileSync(file, "utf8")) as JsonObject;
    this.apiVersion = String((this.document.info as JsonObject).version);
    this.#ajv.addSchema(this.document, "secrets.json");
    const paths = this.document.paths as Record<string, Record<string, JsonObject>>;
    let namePattern: string | undefined;
    for (const [template, methods] of Object.entries(paths)) {
      // The version segment "is optional. If not specified, the latest version of the secret is returned";
      // the SDK asks for the latest as `/secrets/<name>/`.
      const compile = () =>
        compilePathTemplate(template, (param) => (param === "secret-version" ? "([^/]*)" : "([^/]+)"));
      for (const [method, operation] of Object.entries(methods)) {
        const parameters = (operation.parameters ?? []) as JsonObject[];
        const body = parameters.find((p) => p.in === "body");
        const ref = (body?.schema as JsonObject | undefined)?.$ref;
        const maxresults = parameters.find((p) => p.name === "maxresults");
        const name = parameters.find((p) => p.name === "secret-name" && typeof p.pattern === "string");
        if (name !== undefined) namePattern = String(name.pattern);
        const permission = /requires the secrets\/(\w+) permission/.exec(String(operation.description))?.[1];
        if (permission === undefined || !(PERMISSIONS as readonly string[]).includes(permission)) {
          throw new Error(`${template} ${method}: the spec names no secrets/<permission> this server knows`);
        }
        this.#router.add(template, compile, () => undefined, method, {
          operationId: String(operation.operationId),
          method: method.toUpperCase() as HttpMethod,
          template,
          permission: permission as Permission,
          maxResults:
            maxresults === undefined
              ? undefined
              : { minimum: Number(maxresults.minimum), maximum: Number(maxresults.maximum) },
          bodyDefinition: typeof ref === "string" ? ref.replace("#/definitions/", "") : undefined,
        });
      }
    }
    if (namePattern === undefined) throw new Error("the spec declares no secret-name pattern");
    // "^[0-9a-zA-Z-]+$" in the spec; Key Vault caps names at 127 characters.
    this.secretName = new RegExp(namePattern.replace(/\+\$$/, "{1,127}$"));
  }

  /** The operation a request addresses; `allowed` lists the methods of a matched path otherwise. */
  match(method: string, pathname: string): RouteMatch | { allowed: HttpMethod[] } | undefined {
    const found = this.#router.match(method, pathname);
    if (found === undefined || !("allowed" in found)) {
      return found && { operation: found.route, params: found.params };
    }
    return { allowed: found.allowed as HttpMethod[] };
  }

  /** Ajv's findings for a request body, or undefined when it conforms. */
  bodyProblems(definition: string, body: unknown): string | undefined {
    let validate = this.#validators.get(definition);
    if (validate === undefined) {
      validate = this.#ajv.compile({ $ref: `secrets.json#/definitions/${definition}` });
      this.#validators.set(definition, validate);
    }
    return validate(body) ? undefined : this.#ajv.errorsText(validate.errors, { dataVar: "body" });
  }
}
