/**
 * Test-only control endpoints under `/__emulator/`, a prefix no Twilio API uses. They need no credentials,
 * so they answer only requests from the loopback interface. Bodies are JSON; `region` (default us1) may be
 * given in the body of the token operations.
 *
 *   GET    /__emulator/snapshot                          the secret-free state snapshot
 *   GET    /__emulator/keys[?accountSid=AC..&region=..]  keys of an account (default: the main account)
 *   POST   /__emulator/main-keys                         {"accountSid"?,"region"?} -> 201 {"sid","secret"}
 *   POST   /__emulator/subaccounts                       {"count","friendlyNamePrefix"?} -> 201 [{"sid","friendlyName","authToken"}]
 *   POST   /__emulator/accounts/{sid}/secondary-token    -> 201 {"authToken"}: a secondary behind the rotator's back
 *   DELETE /__emulator/accounts/{sid}/secondary-token    -> 204, or 404 when there is none
 *   POST   /__emulator/accounts/{sid}/promote            -> 200 {"authToken"}: the new primary
 *   POST   /__emulator/accounts/{sid}/rotate-primary-token -> 200 {"authToken"}: Twilio's security reset
 *   POST   /__emulator/accounts/{sid}/status             {"status"} -> 204: suspend, close or reactivate any account
 *   POST   /__emulator/accounts/{sid}/test-credentials   -> 200 {"accountSid","authToken"}
 *   GET    /__emulator/stats, DELETE /__emulator/stats   request counters; DELETE resets them -> 204
 *   GET    /__emulator/clock                             {"now","offsetSeconds"}: the emulator's clock
 *   POST   /__emulator/clock                             {"offset": "-91d"} or {"advance": "91d"} -> 200 the clock
 *   GET    /__emulator/faults                            all faults with their `fired` counts
 *   POST   /__emulator/faults                            a fault as JSON (see faults.ts) -> 201 the fault with its id
 *   DELETE /__emulator/faults                            remove all faults -> 204
 *   GET    /__emulator/faults/{id}                       one fault -> 200, or 404
 *   DELETE /__emulator/faults/{id}                       remove one fault -> 204, or 404
 *   /__emulator/phone-numbers, /__emulator/webhooks, /__emulator/traffic: see webhooks/admin.ts
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { kitAdmin, optionalString, parseJsonObject } from "../server-kit/admin.js";
import { isLoopback, sendJson } from "../server-kit/listener.js";
import type { EmulatorClock, EmulatorSubaccount, RegionOption } from "./emulator.js";
import type { FaultController } from "./faults.js";
import type { AccountStatus, EmulatorSnapshot, KeyType } from "./state.js";
import type { EmulatorStats } from "./stats.js";
import { handleWebhookAdmin } from "./webhooks/admin.js";
import type { EmulatorWebhooks } from "./webhooks/controller.js";

export interface AdminOperations {
  snapshot(): EmulatorSnapshot;
  keys(
    accountSid?: string,
    options?: RegionOption,
  ): Array<{ sid: string; friendlyName: string; keyType: KeyType; dateCreated: Date }>;
  createMainKey(accountSid?: string, options?: RegionOption): { sid: string; secret: string };
  createSecondaryToken(accountSid?: string, options?: RegionOption): string;
  deleteSecondaryToken(accountSid?: string, options?: RegionOption): boolean;
  promote(accountSid?: string, options?: RegionOption): string;
  rotatePrimaryToken(accountSid?: string, options?: RegionOption): string;
  setAccountStatus(accountSid: string, status: AccountStatus): void;
  testCredentials(accountSid?: string): { accountSid: string; authToken: string };
  createSubaccounts(count: number, options?: { friendlyNamePrefix?: string }): EmulatorSubaccount[];
  clock(): EmulatorClock;
  moveClock(move: { offsetMs: number } | { advanceMs: number }): EmulatorClock;
  stats(): EmulatorStats;
  resetStats(): void;
  faults: FaultController;
  webhooks: EmulatorWebhooks;
}

const STATUSES: readonly string[] = ["active", "suspended", "closed"];

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
    if (handleWebhookAdmin(ops.webhooks, res, method, url, path, () => parseJsonObject(body))) return;
    const kit = kitAdmin(
      { faults: ops.faults, clock: { view: ops.clock, move: ops.moveClock } },
      method,
      path.slice("/__emulator".length),
      () => parseJsonObject(body),
    );
    const accountOp = /^\/__emulator\/accounts\/([^/]+)\/([a-z-]+)$/.exec(path);
    if (kit !== undefined) {
      if (kit.body === undefined) res.writeHead(kit.status).end();
      else sendJson(res, kit.status, kit.body);
    } else if (path === "/__emulator/snapshot" && method === "GET") {
      sendJson(res, 200, ops.snapshot());
    } else if (path === "/__emulator/keys" && method === "GET") {
      const region = url.searchParams.get("region") ?? undefined;
      sendJson(res, 200, ops.keys(url.searchParams.get("accountSid") ?? undefined, region ? { region } : {}));
    } else if (path === "/__emulator/main-keys" && method === "POST") {
      const input = parseJsonObject(body);
      sendJson(res, 201, ops.createMainKey(optionalString(input, "accountSid"), regionOption(input)));
    } else if (path === "/__emulator/subaccounts" && method === "POST") {
      const input = parseJsonObject(body);
      const count = input?.count;
      if (typeof count !== "number") throw new Error("count must be a number");
      const prefix = optionalString(input, "friendlyNamePrefix");
      sendJson(res, 201, ops.createSubaccounts(count, prefix === undefined ? {} : { friendlyNamePrefix: prefix }));
    } else if (accountOp?.[1] !== undefined) {
      handleAccountOp(ops, res, method, accountOp[1], accountOp[2] ?? "", parseJsonObject(body));
    } else if (path === "/__emulator/stats" && method === "GET") {
      sendJson(res, 200, ops.stats());
    } else if (path === "/__emulator/stats" && method === "DELETE") {
      ops.resetStats();
      res.writeHead(204).end();
    } else {
      notFound(res, method, path);
    }
  } catch (error) {
    sendJson(res, 400, { error: error instanceof Error ? error.message : String(error) });
  }
}

function handleAccountOp(
  ops: AdminOperations,
  res: ServerResponse,
  method: string,
  sid: string,
  operation: string,
  input: Record<string, unknown> | undefined,
): void {
  const region = regionOption(input);
  const op = `${method} ${operation}`;
  if (op === "POST secondary-token") {
    sendJson(res, 201, { authToken: ops.createSecondaryToken(sid, region) });
  } else if (op === "DELETE secondary-token") {
    if (ops.deleteSecondaryToken(sid, region)) res.writeHead(204).end();
    else sendJson(res, 404, { error: `account ${sid} has no secondary token` });
  } else if (op === "POST promote") {
    sendJson(res, 200, { authToken: ops.promote(sid, region) });
  } else if (op === "POST rotate-primary-token") {
    sendJson(res, 200, { authToken: ops.rotatePrimaryToken(sid, region) });
  } else if (op === "POST status") {
    const status = input?.status;
    if (typeof status !== "string" || !STATUSES.includes(status)) {
      throw new Error(`status must be one of ${STATUSES.join(", ")}`);
    }
    ops.setAccountStatus(sid, status as AccountStatus);
    res.writeHead(204).end();
  } else if (op === "POST test-credentials") {
    sendJson(res, 200, ops.testCredentials(sid));
  } else {
    notFound(res, method, `/__emulator/accounts/${sid}/${operation}`);
  }
}

function notFound(res: ServerResponse, method: string, path: string): void {
  sendJson(res, 404, { error: `no admin endpoint ${method} ${path}` });
}

function regionOption(input: Record<string, unknown> | undefined): RegionOption {
  const region = optionalString(input, "region");
  return region === undefined ? {} : { region };
}
