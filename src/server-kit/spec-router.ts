/**
 * Routing by a vendor's published spec, for both test servers: each path template of the spec (`/Accounts/{Sid}.json`,
 * `/secrets/{secret-name}/{secret-version}`) becomes a pattern where a `{param}` is one path segment, and a request
 * is matched to the operation its method has on the most literal template that matches. A path the spec has
 * under another method is told apart from one it lacks, so a server answers 405 with the methods it serves
 * rather than 404. (Bodies are checked against the spec's schemas with schema.ts.)
 *
 * The contract tests (test/emulator/helpers, test/keyvault-server/helpers) match templates with code of their own
 * on purpose: a bug here must not hide in both the server and the check of it.
 */
export interface PathTemplate {
  template: string;
  pattern: RegExp;
  /** The `{param}` names, in the order of the pattern's groups. */
  names: string[];
  /** Characters outside the `{param}`s: the more, the more literal the template. */
  literalLength: number;
}

/**
 * `{name}` matches one non-empty path segment, or what `segment(name)` says (a regular expression source with one
 * group) for a parameter the spec lets be empty.
 */
export function compilePathTemplate(
  template: string,
  segment: (name: string) => string = () => "([^/]+)",
): PathTemplate {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      const name = /^\{([^}]+)\}$/.exec(part)?.[1];
      if (name === undefined) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return segment(name);
    })
    .join("");
  return {
    template,
    pattern: new RegExp(`^${source}$`),
    names,
    literalLength: template.replace(/\{[^}]+\}/g, "").length,
  };
}

/** A request matched to a route, with its path parameters decoded. */
export interface RouteFound<R> {
  route: R;
  params: Record<string, string>;
}

/** The path matches templates with other methods only: what they serve, and each template's own data. */
export interface MethodNotServed<T> {
  allowed: string[];
  templates: T[];
}

interface Group<R, T> {
  key: string;
  template: PathTemplate;
  data: T;
  routes: Map<string, R>;
}

/**
 * Routes keyed by path template and method. `T` is what a server keeps per template (the methods its spec
 * declares there, for a precise 405), `R` per route.
 */
export class SpecRouter<R, T = undefined> {
  readonly #groups: Group<R, T>[] = [];

  /** Adds a route; templates with the same `key` (the template, or spec and template) share one pattern. */
  add(key: string, template: () => PathTemplate, data: () => T, method: string, route: R): void {
    let group = this.#groups.find((g) => g.key === key);
    if (group === undefined) {
      group = { key, template: template(), data: data(), routes: new Map() };
      this.#groups.push(group);
      // The most literal template wins: /secrets/{name}/versions before /secrets/{name}/{version}. Stable, so
      // templates as literal as each other keep the order they were added in.
      this.#groups.sort((a, b) => b.template.literalLength - a.template.literalLength);
    }
    group.routes.set(method.toUpperCase(), route);
  }

  /** Every route, for coverage checks. */
  routes(): R[] {
    return this.#groups.flatMap((g) => [...g.routes.values()]);
  }

  /**
   * The route for a request, or the methods served on its path, or undefined when no template matches (also when
   * a parameter is not valid percent-encoding: no route has such a path).
   */
  match(method: string, path: string): RouteFound<R> | MethodNotServed<T> | undefined {
    const upper = method.toUpperCase();
    const matched: Group<R, T>[] = [];
    for (const group of this.#groups) {
      const found = group.template.pattern.exec(path);
      if (found === null) continue;
      const route = group.routes.get(upper);
      if (route === undefined) {
        // Another template may serve this method on the same path (POST /secrets/restore, PUT /secrets/{name}).
        matched.push(group);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [index, name] of group.template.names.entries()) {
        const value = decode(found[index + 1] ?? "");
        if (value === undefined) return undefined;
        params[name] = value;
      }
      return { route, params };
    }
    if (matched.length === 0) return undefined;
    return { allowed: matched.flatMap((g) => [...g.routes.keys()]), templates: matched.map((g) => g.data) };
  }
}

function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
