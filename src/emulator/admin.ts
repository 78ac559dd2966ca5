/**
 * Test-only control endpoints under `/__emulator/`, a prefix no Twilio API uses. They need no credentials,
 * so they answer only requests from the loopback interface.
 *
 *   GET    /__emulator/snapshot               the secret-free state snapshot
 *   GET    /__emulator/keys[?accountSid=AC..] keys of an account (default: the main account)
 *   POST   /__emulator/main-keys              {"accountSid"?} -> 201 {"sid","secret"}: seed a Main key
 *   GET    /__emulator/faults                 all faults with their `fired` counts
 *   POST   /__emulator/faults                 a fault as JSON (see faults.ts) -> 201 the fault with its id
 *   DELETE /__emulator/faults                 remove all faults -> 204
 *   GET    /__emulator/faults/{id}            one fault -> 200, or 404
 *   DELETE /__emulator/faults/{id}            remove one fault -> 204, or 404
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultController, FaultInput } from "./faults.js";
import { sendJson } from "./server.js";
import type { EmulatorSnapshot, KeyType } from "./state.js";

export interface AdminOperations {
  snapshot(): EmulatorSnapshot;
  keys(accountSid?: string): Array<{ sid: string; friendlyName: string; keyType: KeyType; dateCreated: Date }>;
  createMainKey(accountSid?: string): { sid: string; secret: string };
  faults: FaultController;
}

export function handleAdmin(
  ops: AdminOperations,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: string,
): void {
  if (!isLoopback(req.socket.remoteAddress)) {
    sendJson(res, 403, { error: "the emulator's admin endpoints answer loopback clients only" });
    return;
  }
  const method = (req.method ?? "GET").toUpperCase();
  const path = url.pathname.replace(/\/+$/, "");
  try {
    const faultId = /^\/__emulator\/faults\/([^/]+)$/.exec(path)?.[1];
    if (path === "/__emulator/snapshot" && method === "GET") {
      sendJson(res, 200, ops.snapshot());
    } else if (path === "/__emulator/keys" && method === "GET") {
      sendJson(res, 200, ops.keys(url.searchParams.get("accountSid") ?? undefined));
    } else if (path === "/__emulator/main-keys" && method === "POST") {
      const input = parseJson(body);
      const accountSid = typeof input?.accountSid === "string" ? input.accountSid : undefined;
      sendJson(res, 201, ops.createMainKey(accountSid));
    } else if (path === "/__emulator/faults" && method === "GET") {
      sendJson(res, 200, ops.faults.list());
    } else if (path === "/__emulator/faults" && method === "POST") {
      // The controller validates the shape; an invalid fault comes back as a 400 naming the problem.
      sendJson(res, 201, ops.faults.add(parseJson(body) as FaultInput));
    } else if (path === "/__emulator/faults" && method === "DELETE") {
      ops.faults.clear();
      res.writeHead(204).end();
    } else if (faultId !== undefined && method === "GET") {
      const fault = ops.faults.get(faultId);
      if (fault) sendJson(res, 200, fault);
      else sendJson(res, 404, { error: `no fault ${faultId}` });
    } else if (faultId !== undefined && method === "DELETE") {
      if (ops.faults.remove(faultId)) res.writeHead(204).end();
      else sendJson(res, 404, { error: `no fault ${faultId}` });
    } else {
      sendJson(res, 404, { error: `no admin endpoint ${method} ${path}` });
    }
  } catch (error) {
    sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
  }
}

function parseJson(body: string): Record<string, unknown> | undefined {
  if (body.trim() === "") return undefined;
  const value: unknown = JSON.parse(body);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("expected a JSON object");
  return value as Record<string, unknown>;
}

function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1" || /^127\./.test(address ?? "");
}
