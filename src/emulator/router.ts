/**
 * Matches a request to a route by the spec's path templates (`{Sid}` is one path segment, see the server kit's
 * spec-router.ts) and binds each route to its spec operation at start-up, so a route the spec lacks stops the
 * emulator from starting.
 */
import { compilePathTemplate, SpecRouter } from "../server-kit/spec-router.js";
import type { RouteDefinition } from "./context.js";
import { methodNotAllowed, notFound } from "./errors.js";
import { ROUTES } from "./routes.js";
import type { HttpMethod, Operation, TwilioSpecs } from "./spec.js";

export interface CompiledRoute {
  def: RouteDefinition;
  op: Operation;
}

export interface RouteMatch {
  route: CompiledRoute;
  pathParams: Record<string, string>;
}

export class Router {
  /** Per path: the methods the spec declares there, implemented or not (for a precise 405 message). */
  readonly #routes = new SpecRouter<CompiledRoute, HttpMethod[]>();

  constructor(specs: TwilioSpecs, routes: readonly RouteDefinition[] = ROUTES) {
    for (const def of routes) {
      const route = { def, op: specs.operation(def.spec, def.path, def.method) };
      this.#routes.add(
        `${def.spec} ${def.path}`,
        // Lazy on purpose: `{Sid}` stops at the first match, so `{Sid}.json` leaves the suffix to the literal.
        () => compilePathTemplate(def.path, () => "([^/]+?)"),
        () => specs.methods(def.spec, def.path),
        def.method,
        route,
      );
    }
  }

  /** Every operation served, for coverage checks. */
  operations(): Operation[] {
    return this.#routes.routes().map((r) => r.op);
  }

  /** Throws 404 (20404) for an unknown path and 405 (20004) for a method the path does not serve. */
  match(method: string, path: string): RouteMatch {
    const found = this.#routes.match(method, path);
    if (found === undefined) throw notFound(path);
    if ("allowed" in found) {
      const inSpec = found.templates.some((specMethods) => (specMethods as string[]).includes(method));
      throw methodNotAllowed(found.allowed, inSpec ? `: the emulator does not implement ${method} ${path}` : "");
    }
    return { route: found.route, pathParams: found.params };
  }
}
