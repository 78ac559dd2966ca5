/**
 * Admin endpoints both test servers serve under their own prefix (/__emulator, /__keyvault), for a test in
 * another process: the faults and the clock. A server routes the rest of its admin paths itself.
 *
 *   GET    <prefix>/faults              all faults with their `fired` counts
 *   POST   <prefix>/faults              a fault as JSON -> 201 the fault with its id (400 naming what is invalid)
 *   DELETE <prefix>/faults              remove all faults -> 204
 *   GET    <prefix>/faults/{id}         one fault -> 200, or 404
 *   DELETE <prefix>/faults/{id}         remove one fault -> 204, or 404
 *   GET    <prefix>/clock               {"now","offsetSeconds"}: the server's clock
 *   POST   <prefix>/clock               {"offset": "-91d"} or {"advance": "91d"} -> 200 the clock
 */
import { parseSignedDuration } from "../util/duration.js";
import type { ClockMove, ClockView } from "./clock.js";

export interface AdminReply {
  status: number;
  /** No body (204) when absent. */
  body?: unknown;
}

export interface FaultAdmin<V> {
  add(input: never): V;
  list(): V[];
  get(id: string): V | undefined;
  remove(id: string): boolean;
  clear(): void;
}

export interface ClockAdmin {
  view(): ClockView;
  move(move: ClockMove): ClockView;
}

/**
 * The answer to `method` on `path` (below the prefix, no trailing slash: "/faults/F1") when it is a fault or clock
 * endpoint; undefined leaves it to the server. `json` reads the request body; it throws on invalid JSON (a 400).
 */
export function kitAdmin<V>(
  parts: { faults: FaultAdmin<V>; clock?: ClockAdmin },
  method: string,
  path: string,
  json: () => unknown,
): AdminReply | undefined {
  const { faults, clock } = parts;
  const faultId = /^\/faults\/([^/]+)$/.exec(path)?.[1];
  const noFault = (id: string): AdminReply => ({ status: 404, body: { error: `no fault ${id}` } });
  const op = `${method} ${faultId === undefined ? path : "/faults/{id}"}`;
  switch (op) {
    case "GET /faults":
      return { status: 200, body: faults.list() };
    case "POST /faults":
      // The controller validates the shape; an invalid fault comes back as a 400 naming the problem.
      return { status: 201, body: faults.add(json() as never) };
    case "DELETE /faults":
      faults.clear();
      return { status: 204 };
    case "GET /faults/{id}": {
      const fault = faults.get(faultId ?? "");
      return fault === undefined ? noFault(faultId ?? "") : { status: 200, body: fault };
    }
    case "DELETE /faults/{id}":
      return faults.remove(faultId ?? "") ? { status: 204 } : noFault(faultId ?? "");
  }
  if (clock === undefined) return undefined;
  if (op === "GET /clock") return { status: 200, body: clock.view() };
  if (op === "POST /clock") return { status: 200, body: clock.move(clockMove(json())) };
  return undefined;
}

/** `{"offset": "-91d"}` sets the clock's offset from the real one; `{"advance": "91d"}` moves it (negative: back). */
function clockMove(input: unknown): ClockMove {
  const offset = optionalString(input, "offset");
  const advance = optionalString(input, "advance");
  if ((offset === undefined) === (advance === undefined)) {
    throw new Error(
      'give one of "offset" (the clock\'s distance from the real one) or "advance", e.g. {"advance": "91d"}',
    );
  }
  const ms = parseSignedDuration((offset ?? advance) as string);
  if (typeof ms === "string") throw new Error(ms);
  return offset !== undefined ? { offsetMs: ms } : { advanceMs: ms };
}

/** A string field of an admin request's JSON body, or undefined; throws naming it when it is not a string. */
export function optionalString(input: unknown, name: string): string | undefined {
  const value = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[name] : undefined;
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new Error(`${name} must be a string`);
  return value;
}

/** An admin request's body as a JSON object (undefined when empty); throws when it is anything else. */
export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  if (body.trim() === "") return undefined;
  const value: unknown = JSON.parse(body);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("expected a JSON object");
  return value as Record<string, unknown>;
}
