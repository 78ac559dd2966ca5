/**
 * Matches a request to a route by the spec's path templates (`{Sid}` is one path segment) and binds each
 * route to its spec operation at start-up, so a route the spec lacks stops the emulator from starting.
 */
import type { RouteDefinition } from "./context.js";
import { methodNotAllowed, notFound } from "./errors.js";
import { ROUTES } from "./routes.js";
import type { HttpMethod, Operation, TwilioSpecs } from "./spec.js";

export interface CompiledRoute {
  def: RouteDefinition;
  op: Operation;
}

interface PathGroup {
  pattern: RegExp;
  names: string[];
  routes: CompiledRoute[];
  /** Methods the spec declares for this path, implemented or not (for a precise 405 message). */
  specMethods: HttpMethod[];
}

export interface RouteMatch {
  route: CompiledRoute;
  pathParams: Record<string, string>;
}

export class Router {
  readonly #groups: PathGroup[] = [];

  constructor(specs: TwilioSpecs, routes: readonly RouteDefinition[] = ROUTES) {
    for (const def of routes) {
      const route = { def, op: specs.operation(def.spec, def.path, def.method) };
      const existing = this.#groups.find(
        (g) => g.routes[0]?.def.path === def.path && g.routes[0]?.def.spec === def.spec,
      );
      if (existing) {
        existing.routes.push(route);
      } else {
        const { pattern, names } = compileTemplate(def.path);
        this.#groups.push({ pattern, names, routes: [route], specMethods: specs.methods(def.spec, def.path) });
      }
    }
  }

  /** Every operation served, for coverage checks. */
  operations(): Operation[] {
    return this.#groups.flatMap((g) => g.routes.map((r) => r.op));
  }

  /** Throws 404 (20404) for an unknown path and 405 (20004) for a method the path does not serve. */
  match(method: string, path: string): RouteMatch {
    for (const group of this.#groups) {
      const found = group.pattern.exec(path);
      if (!found) continue;
      const route = group.routes.find((r) => r.def.method === method);
      if (!route) {
        const allowed = group.routes.map((r) => r.def.method);
        const inSpec = (group.specMethods as string[]).includes(method);
        throw methodNotAllowed(allowed, inSpec ? `: the emulator does not implement ${method} ${path}` : "");
      }
      const pathParams: Record<string, string> = {};
      for (const [i, name] of group.names.entries()) {
        const value = found[i + 1];
        if (value === undefined) throw notFound(path);
        pathParams[name] = safeDecode(value, path);
      }
      return { route, pathParams };
    }
    throw notFound(path);
  }
}

function compileTemplate(template: string): { pattern: RegExp; names: string[] } {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const name = /^\{([^}]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return "([^/]+?)";
    })
    .join("");
  return { pattern: new RegExp(`^${source}$`), names };
}

function safeDecode(value: string, path: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw notFound(path);
  }
}
