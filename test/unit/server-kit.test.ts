/**
 * The server kit both emulators are built on (src/server-kit/), on its own: routing by spec path templates, the
 * fault registry's matching and counts, and the fault/clock admin endpoints. The emulators' own tests (test/emulator,
 * test/keyvault-server) hold it to each vendor's behaviour.
 */
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { kitAdmin } from "../../src/server-kit/admin.js";
import { OffsetClock } from "../../src/server-kit/clock.js";
import { FaultRegistry, faultMatchFields, globToRegExp, remaining } from "../../src/server-kit/faults.js";
import { compilePathTemplate, SpecRouter } from "../../src/server-kit/spec-router.js";

describe("spec router", () => {
  const router = new SpecRouter<string>();
  const add = (template: string, method: string) =>
    router.add(
      template,
      () => compilePathTemplate(template),
      () => undefined,
      method,
      `${method} ${template}`,
    );
  add("/secrets/{name}/{version}", "GET");
  add("/secrets/{name}/versions", "GET");
  add("/secrets/{name}", "PUT");
  add("/secrets/restore", "POST");

  it("matches the most literal template first, with its parameters decoded", () => {
    expect(router.match("GET", "/secrets/a/versions")).toEqual({
      route: "GET /secrets/{name}/versions",
      params: { name: "a" },
    });
    expect(router.match("get", "/secrets/a%2Db/v1")).toEqual({
      route: "GET /secrets/{name}/{version}",
      params: { name: "a-b", version: "v1" },
    });
  });

  it("tries another template that serves the method on the same path, then lists what the path serves", () => {
    expect(router.match("POST", "/secrets/restore")).toMatchObject({ route: "POST /secrets/restore" });
    expect(router.match("PUT", "/secrets/restore")).toMatchObject({ route: "PUT /secrets/{name}" });
    expect(router.match("DELETE", "/secrets/restore")).toEqual({
      allowed: ["POST", "PUT"],
      templates: [undefined, undefined],
    });
  });

  it("matches nothing for an unknown path or a parameter that is not valid percent-encoding", () => {
    expect(router.match("GET", "/keys/a")).toBeUndefined();
    expect(router.match("GET", "/secrets/%E0%A4%A/v1")).toBeUndefined();
  });
});

describe("fault registry", () => {
  const schema = z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("slow"), ...faultMatchFields(["GET", "PUT"]) }),
    z.strictObject({ kind: z.literal("refuse"), ...faultMatchFields(["GET", "PUT"]) }),
  ]);
  type Spec = z.output<typeof schema>;
  class Faults extends FaultRegistry<Spec, { id: string; fired: number; remaining: number | null }> {
    constructor() {
      super(schema, {
        pattern: (spec) => (typeof spec.path === "string" ? globToRegExp(spec.path) : spec.path),
        anyMethod: (spec, method) => spec.kind !== "refuse" || method === "PUT",
        view: (fault) => ({ id: fault.id, fired: fault.fired, remaining: remaining(fault) }),
      });
    }
    refuses(method: string, path: string) {
      return this.fire("refuse", method, path) !== undefined;
    }
  }

  it("fires the first matching fault of a kind, counts it, and stops after `times`", () => {
    const faults = new Faults();
    const fault = faults.add({ kind: "refuse", path: "/secrets/*", times: 2 });
    expect(faults.refuses("GET", "/secrets/a")).toBe(false);
    expect(faults.refuses("PUT", "/secrets/a/b")).toBe(false);
    expect(faults.refuses("PUT", "/secrets/a")).toBe(true);
    expect(faults.refuses("PUT", "/secrets/b")).toBe(true);
    expect(faults.refuses("PUT", "/secrets/c")).toBe(false);
    expect(faults.get(fault.id)).toEqual({ id: "F1", fired: 2, remaining: 0 });
  });

  it("refuses an invalid fault naming the problem, and removes and clears", () => {
    const faults = new Faults();
    expect(() => faults.add({ kind: "slow", path: "secrets" } as never)).toThrow(
      /invalid fault: .*path must start with \//s,
    );
    const { id } = faults.add({ kind: "slow" });
    expect(faults.remove(id)).toBe(true);
    expect(faults.remove(id)).toBe(false);
    faults.add({ kind: "slow" });
    faults.clear();
    expect(faults.list()).toEqual([]);
  });
});

describe("admin endpoints", () => {
  it("serve faults and the clock below a server's prefix, and leave other paths to the server", () => {
    const faults = new FaultRegistry(z.strictObject({ kind: z.literal("slow"), ...faultMatchFields(["GET"]) }), {
      pattern: () => undefined,
      view: (fault) => ({ id: fault.id, fired: fault.fired }),
    });
    let real = Date.parse("2026-01-01T00:00:00Z");
    const clock = new OffsetClock("test server", () => real);
    const parts = { faults, clock };
    expect(kitAdmin(parts, "POST", "/faults", () => ({ kind: "slow" }))).toEqual({
      status: 201,
      body: { id: "F1", fired: 0 },
    });
    expect(kitAdmin(parts, "GET", "/faults/F2", () => undefined)).toEqual({
      status: 404,
      body: { error: "no fault F2" },
    });
    expect(kitAdmin(parts, "DELETE", "/faults/F1", () => undefined)).toEqual({ status: 204 });
    expect(kitAdmin(parts, "POST", "/clock", () => ({ advance: "1d" }))).toEqual({
      status: 200,
      body: { now: "2026-01-02T00:00:00.000Z", offsetSeconds: 86400 },
    });
    real += 1000;
    expect(kitAdmin(parts, "GET", "/clock", () => undefined)?.body).toEqual({
      now: "2026-01-02T00:00:01.000Z",
      offsetSeconds: 86400,
    });
    expect(() => kitAdmin(parts, "POST", "/clock", () => ({}))).toThrow(/give one of "offset"/);
    expect(kitAdmin({ faults }, "GET", "/clock", () => undefined)).toBeUndefined();
    expect(kitAdmin(parts, "GET", "/snapshot", () => undefined)).toBeUndefined();
  });
});
