/**
 * The fault controller both test servers share (the Twilio emulator's src/emulator/faults.ts and the Key Vault
 * emulator's src/keyvault-emulator/faults.ts declare their kinds and what each does to a request): faults are
 * validated by the server's Zod schema, matched to a request by method and path (exact, a glob with `*` within a
 * segment and `**` across, or a RegExp), stop after `times` firings, and count how often they fired so a test
 * can assert that a retry happened. Ids are F1, F2, ... in the order added.
 */
import * as z from "zod";

/** The matching fields every fault has: method (any when absent), path, and how many firings it has. */
export function faultMatchFields<const M extends readonly [string, ...string[]]>(methods: M) {
  return {
    /** Only requests with this method; any method when absent. */
    method: z.enum(methods).optional(),
    /** Exact path or glob; a RegExp in-process. Any path when absent. */
    path: z.union([z.string().startsWith("/", "path must start with /"), z.instanceof(RegExp)]).optional(),
    /** Stop after firing this many times. Unlimited when absent. */
    times: z.int().positive().optional(),
  };
}

/** What every fault spec carries, whatever its kinds. */
export interface FaultSpecBase {
  kind: string;
  method?: string | undefined;
  path?: string | RegExp | undefined;
  times?: number | undefined;
}

export interface ActiveFault<S extends FaultSpecBase> {
  id: string;
  spec: S;
  pattern: RegExp | undefined;
  fired: number;
}

/** What a server decides about its own faults. */
export interface FaultRules<S extends FaultSpecBase, V> {
  /** The path pattern a spec matches; undefined for any path. */
  pattern(spec: S): RegExp | undefined;
  /** Whether a spec without a method matches a request of this method (default: every method). */
  anyMethod?(spec: S, method: string): boolean;
  /** The fault as reported back: JSON-safe, with its firing count. */
  view(fault: ActiveFault<S>): V;
}

/** A fault controller: add, list, get, remove and clear, plus the matching a server's effects build on. */
export class FaultRegistry<S extends FaultSpecBase, V, I = z.input<z.ZodType<S>>> {
  readonly #faults: ActiveFault<S>[] = [];
  readonly #schema: z.ZodType<S, I>;
  readonly #rules: FaultRules<S, V>;
  #nextId = 1;

  constructor(schema: z.ZodType<S, I>, rules: FaultRules<S, V>) {
    this.#schema = schema;
    this.#rules = rules;
  }

  /** Validates and adds a fault; throws an Error naming the problem when the input is invalid. */
  add(input: I): V {
    const parsed = this.#schema.safeParse(input);
    if (!parsed.success) throw new Error(`invalid fault: ${z.prettifyError(parsed.error)}`);
    const spec = parsed.data;
    const fault: ActiveFault<S> = { id: `F${this.#nextId++}`, spec, pattern: this.#rules.pattern(spec), fired: 0 };
    this.#faults.push(fault);
    return this.#rules.view(fault);
  }

  list(): V[] {
    return this.#faults.map((fault) => this.#rules.view(fault));
  }

  get(id: string): V | undefined {
    const fault = this.#faults.find((f) => f.id === id);
    return fault && this.#rules.view(fault);
  }

  remove(id: string): boolean {
    const index = this.#faults.findIndex((f) => f.id === id);
    if (index >= 0) this.#faults.splice(index, 1);
    return index >= 0;
  }

  clear(): void {
    this.#faults.length = 0;
  }

  /** The faults with firings left that match this request, oldest first. */
  protected matching(method: string, path: string): ActiveFault<S>[] {
    return this.#faults.filter(
      (f) =>
        (f.spec.times === undefined || f.fired < f.spec.times) &&
        (f.spec.method === undefined ? (this.#rules.anyMethod?.(f.spec, method) ?? true) : f.spec.method === method) &&
        (f.pattern === undefined || f.pattern.test(path)),
    );
  }

  /** The spec of the first matching fault of this kind, counted as fired; undefined when none matches. */
  protected fire(kind: S["kind"], method: string, path: string): S | undefined {
    const fault = this.matching(method, path).find((f) => f.spec.kind === kind);
    if (fault === undefined) return undefined;
    fault.fired++;
    return fault.spec;
  }
}

/** Firings left of a fault, or null when unlimited. */
export function remaining(fault: ActiveFault<FaultSpecBase>): number | null {
  return fault.spec.times === undefined ? null : fault.spec.times - fault.fired;
}

/** A RegExp path as given in-process, without the flags that would make `test` stateful. */
export function statelessRegExp(path: RegExp): RegExp {
  return new RegExp(path.source, path.flags.replace(/[gy]/g, ""));
}

/** `*` matches within one path segment, `**` across segments; everything else is literal. */
export function globToRegExp(glob: string, flags = ""): RegExp {
  const source = glob
    .split(/(\*\*|\*)/)
    .map((part) => (part === "**" ? ".*" : part === "*" ? "[^/]*" : part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, flags);
}
