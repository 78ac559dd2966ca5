/**
 * Request parameters checked against the operation's parameter schemas from the spec. Handlers only ever
 * see parameters the spec declares, already known to be well-formed; everything else is ignored, as
 * Twilio ignores unknown parameters.
 */
import { badParameter, missingParameter, notFound, pageSizeTooLarge, type TwilioError } from "./errors.js";
import type { Operation, ParamSpec, SchemaObject } from "./spec.js";

export interface RequestParams {
  path: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string>>;
  body: Readonly<Record<string, string>>;
}

export interface RawParams {
  path: Readonly<Record<string, string>>;
  query: URLSearchParams;
  body: URLSearchParams;
}

export function validateParams(op: Operation, raw: RawParams, requestPath: string): RequestParams {
  const out = {
    path: {} as Record<string, string>,
    query: {} as Record<string, string>,
    body: {} as Record<string, string>,
  };
  for (const param of op.params) {
    const value = param.in === "path" ? raw.path[param.name] : (raw[param.in].get(param.name) ?? undefined);
    if (value === undefined) {
      if (param.required) {
        // A path parameter is never absent once the route matched; query and body ones can be.
        throw param.in === "path" ? notFound(requestPath) : missingParameter(param.name, where(param));
      }
      continue;
    }
    const problem = check(value, param.schema);
    if (problem !== undefined) {
      // Twilio answers a malformed SID in the path as an unknown resource, not as a bad request.
      if (param.in === "path") throw notFound(requestPath);
      throw invalid(param, value, problem);
    }
    out[param.in][param.name] = value;
  }
  return out;
}

function where(param: ParamSpec): "post body" | "query string" {
  return param.in === "body" ? "post body" : "query string";
}

function invalid(param: ParamSpec, value: string, problem: string): TwilioError {
  // Twilio has its own code for a PageSize above the maximum (1000).
  if (param.name === "PageSize" && param.schema.maximum !== undefined && Number(value) > param.schema.maximum) {
    return pageSizeTooLarge();
  }
  return badParameter(`Invalid value for ${param.name} in the ${where(param)}: ${problem}`);
}

/** Returns what is wrong with `value`, or undefined when it satisfies the schema. */
function check(value: string, schema: SchemaObject): string | undefined {
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    return `must be one of ${schema.enum.map(String).join(", ")}`;
  }
  switch (schema.type) {
    case "integer":
    case "number": {
      const pattern = schema.type === "integer" ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
      if (!pattern.test(value)) return `must be ${schema.type === "integer" ? "an integer" : "a number"}`;
      const n = Number(value);
      if (schema.minimum !== undefined && n < schema.minimum) return `at least ${schema.minimum}`;
      if (schema.maximum !== undefined && n > schema.maximum) return `at most ${schema.maximum}`;
      return undefined;
    }
    case "boolean":
      return value === "true" || value === "false" ? undefined : "must be true or false";
    default: {
      if (schema.minLength !== undefined && value.length < schema.minLength)
        return `at least ${schema.minLength} characters`;
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        return `at most ${schema.maxLength} characters`;
      if (schema.pattern !== undefined && !compiled(schema.pattern).test(value)) return `must match ${schema.pattern}`;
      return undefined;
    }
  }
}

const patterns = new Map<string, RegExp>();

/** The spec's patterns are few and fixed; compiling each once keeps per-request checks cheap. */
function compiled(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) {
    regex = new RegExp(pattern);
    patterns.set(pattern, regex);
  }
  return regex;
}
