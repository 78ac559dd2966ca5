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
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { packageRoot } from "../util/package-root.js";

const addFormats = addFormatsModule.default;

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

interface Template {
  template: string;
  pattern: RegExp;
  names: string[];
  literalLength: number;
  operations: Map<HttpMethod, SpecOperation>;
}

type JsonObject = Record<string, unknown>;

/** The spec types every attribute time as `integer` with `format: unixtime`; Ajv needs the formats declared. */
export function makeAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addFormat("unixtime", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  ajv.addFormat("base64url", /^[A-Za-z0-9_-]*$/);
  return ajv;
}

export class KeyVaultSpec {
  readonly document: JsonObject;
  /** `info.version`: the only api-version the server answers. */
  readonly apiVersion: string;
  /** The secret-name pattern of SetSecret, with Key Vault's length limit of 127. */
  readonly secretName: RegExp;
  readonly #templates: Template[] = [];
  readonly #ajv = makeAjv();
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(file: string = SPEC_FILE) {
    this.document = JSON.parse(readFileSync(file, "utf8")) as JsonObject;
    this.apiVersion = String((this.document.info as JsonObject).version);
    this.#ajv.addSchema(this.document, "secrets.json");
    const paths = this.document.paths as Record<string, Record<string, JsonObject>>;
    let namePattern: string | undefined;
    for (const [template, methods] of Object.entries(paths)) {
      const names: string[] = [];
      const source = template
        .split(/(\{[^}]+\})/)
        .map((part) => {
          const param = /^\{([^}]+)\}$/.exec(part)?.[1];
          if (param === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          names.push(param);
          // The version segment "is optional. If not specified, the latest version of the secret is returned";
          // the SDK asks for the latest as `/secrets/<name>/`.
          return param === "secret-version" ? "([^/]*)" : "([^/]+)";
        })
        .join("");
      const entry: Template = {
        template,
        pattern: new RegExp(`^${source}$`),
        names,
        literalLength: template.replace(/\{[^}]+\}/g, "").length,
        operations: new Map(),
      };
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
        entry.operations.set(method.toUpperCase() as HttpMethod, {
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
      this.#templates.push(entry);
    }
    if (namePattern === undefined) throw new Error("the spec declares no secret-name pattern");
    // "^[0-9a-zA-Z-]+$" in the spec; Key Vault caps names at 127 characters.
    this.secretName = new RegExp(namePattern.replace(/\+\$$/, "{1,127}$"));
    // The most literal template wins: /secrets/{name}/versions before /secrets/{name}/{version}.
    this.#templates.sort((a, b) => b.literalLength - a.literalLength);
  }

  /** The operation a request addresses; `allowed` lists the methods of a matched path otherwise. */
  match(method: string, pathname: string): RouteMatch | { allowed: HttpMethod[] } | undefined {
    for (const template of this.#templates) {
      const found = template.pattern.exec(pathname);
      if (found === null) continue;
      const operation = template.operations.get(method.toUpperCase() as HttpMethod);
      if (operation === undefined) {
        // Another template may serve this method on the same path (POST /secrets/restore, PUT /secrets/{name}).
        continue;
      }
      const params: Record<string, string> = {};
      template.names.forEach((name, index) => {
        params[name] = decodeURIComponent(found[index + 1] ?? "");
      });
      return { operation, params };
    }
    const allowed = this.#templates.filter((t) => t.pattern.test(pathname)).flatMap((t) => [...t.operations.keys()]);
    return allowed.length > 0 ? { allowed } : undefined;
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
