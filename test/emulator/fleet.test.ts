/**
 * Fleets of subaccounts (issue #12): cheap creation of 1,000+, listing with Twilio's paging and filters,
 * keys per subaccount, parent-account admin, the request-rate limit and the traffic counters.
 */
import { describe, expect, it } from "vitest";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator({ subaccountLimit: 2000 });

interface V2010Page {
  accounts: Array<{ sid: string }>;
  page: number;
  page_size: number;
  start: number;
  end: number;
  uri: string;
  first_page_uri: string;
  next_page_uri: string | null;
  previous_page_uri: string | null;
}

describe("createSubaccounts()", () => {
  it("creates 1,200 subaccounts without HTTP, each with its own token; a fleet that does not fit makes none", async () => {
    const { emulator, client } = harness();
    const created = emulator.createSubaccounts(1200, { friendlyNamePrefix: "fleet-" });
    expect(created).toHaveLength(1200);
    expect(created[0]?.friendlyName).toBe("fleet-0");
    expect(created[1199]?.friendlyName).toBe("fleet-1199");
    expect(new Set(created.map((s) => s.authToken)).size).toBe(1200);
    const last = created[1199];
    if (!last) throw new Error("no subaccount");
    expect((await client(last.sid, last.authToken, last.sid).api.v2010.accounts(last.sid).fetch()).friendlyName).toBe(
      "fleet-1199",
    );
    // Numbering continues, and the limit holds as over the API (21480).
    expect(emulator.createSubaccounts(1)[0]?.friendlyName).toBe("subaccount-1200");
    expect(() => emulator.createSubaccounts(800)).toThrow(expect.objectContaining({ code: 21480 }));
    expect(emulator.snapshot().accounts[0]?.subaccountSids).toHaveLength(1201);
    expect(emulator.createSubaccounts(799)).toHaveLength(799);
  });
});

describe("GET /2010-04-01/Accounts.json over a fleet", () => {
  it("pages 1,200 subaccounts by PageSize and PageToken with relative URIs and Twilio's counters", async () => {
    const { emulator, admin, exchanges } = harness();
    const created = emulator.createSubaccounts(1200, { friendlyNamePrefix: "fleet-" });
    const before = exchanges.length;
    const listed = await admin.api.v2010.accounts.list({ pageSize: 500 });
    expect(listed.map((a) => a.sid)).toEqual([emulator.accountSid, ...created.map((s) => s.sid)]);
    const pages = exchanges.slice(before).map((e) => e.body as V2010Page);
    expect(pages.map((p) => [p.page, p.page_size, p.start, p.end, p.accounts.length])).toEqual([
      [0, 500, 0, 499, 500],
      [1, 500, 500, 999, 500],
      [2, 500, 1000, 1200, 201],
    ]);
    expect(pages[0]?.next_page_uri).toMatch(/^\/2010-04-01\/Accounts\.json\?PageSize=500&Page=1&PageToken=PT\d+$/);
    expect(pages[1]?.previous_page_uri).toBe("/2010-04-01/Accounts.json?PageSize=500&Page=0");
    expect(pages[2]?.next_page_uri).toBeNull();
    for (const page of pages) expect(page.first_page_uri).toBe("/2010-04-01/Accounts.json?PageSize=500&Page=0");
  });

  it("filters by FriendlyName and Status across the fleet, and a subaccount sees only itself", async () => {
    const { emulator, admin, client } = harness();
    const created = emulator.createSubaccounts(300, { friendlyNamePrefix: "fleet-" });
    for (const sub of created.slice(0, 5)) emulator.setAccountStatus(sub.sid, "suspended");
    const suspended = await admin.api.v2010.accounts.list({ status: "suspended", pageSize: 2 });
    expect(suspended.map((a) => a.sid)).toEqual(created.slice(0, 5).map((s) => s.sid));
    const named = await admin.api.v2010.accounts.list({ friendlyName: "fleet-42" });
    expect(named.map((a) => a.sid)).toEqual([created[42]?.sid]);
    expect(await admin.api.v2010.accounts.list({ friendlyName: "fleet-42", status: "suspended" })).toEqual([]);
    const sub = created[7];
    if (!sub) throw new Error("no subaccount");
    expect((await client(sub.sid, sub.authToken, sub.sid).api.v2010.accounts.list()).map((a) => a.sid)).toEqual([
      sub.sid,
    ]);
  });
});

describe("keys per subaccount", () => {
  it("the parent's token and Main key create, page and delete a subaccount's keys via v2010", async () => {
    const { emulator, admin, client, exchanges } = harness();
    const [sub] = emulator.createSubaccounts(3);
    if (!sub) throw new Error("no subaccount");
    const keys = admin.api.v2010.accounts(sub.sid).keys;
    const made = [];
    for (let i = 0; i < 5; i++)
      made.push(await admin.api.v2010.accounts(sub.sid).newKeys.create({ friendlyName: `k${i}` }));
    const before = exchanges.length;
    expect((await keys.list({ pageSize: 2 })).map((k) => k.sid)).toEqual(made.map((k) => k.sid));
    expect(exchanges.slice(before).map((e) => (e.body as { keys: unknown[] }).keys.length)).toEqual([2, 2, 1]);
    const main = emulator.createMainKey();
    const viaMain = client(main.sid, main.secret);
    await viaMain.api.v2010
      .accounts(sub.sid)
      .keys(made[0]?.sid ?? "")
      .remove();
    await keys(made[1]?.sid ?? "").remove();
    expect(emulator.keys(sub.sid).map((k) => k.sid)).toEqual(made.slice(2).map((k) => k.sid));
    // Other subaccounts' keys stay apart.
    expect(emulator.keys(emulator.snapshot().accounts[2]?.sid)).toEqual([]);
  });
});

describe("rateLimit", () => {
  const limited = useEmulator({ rateLimit: { requestsPerSecond: 5, burst: 3 } });

  it("answers 429 (20429) with Retry-After once an account's bucket is empty, never changing state", async () => {
    const { emulator, admin, exchanges } = limited();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      try {
        await admin.api.v2010.accounts(emulator.accountSid).newKeys.create({ friendlyName: `k${i}` });
        statuses.push(exchanges.at(-1)?.status ?? 0);
      } catch (error) {
        expect(error).toMatchObject({ status: 429, code: 20429 });
        statuses.push(429);
      }
    }
    expect(statuses.slice(0, 3)).toEqual([201, 201, 201]);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    const throttled = exchanges.find((e) => e.status === 429);
    expect(Number(throttled?.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(throttled?.body).toMatchObject({ code: 20429, status: 429 });
    expect(emulator.keys()).toHaveLength(statuses.filter((s) => s === 201).length);
    const stats = emulator.stats();
    expect(stats.rateLimited).toBe(statuses.filter((s) => s === 429).length);
    expect(stats.responses["429"]).toBe(stats.rateLimited);
    expect(stats.requests).toBe(5);
  });

  it("counts per account: a throttled parent does not throttle its subaccount", async () => {
    const { emulator, admin, client } = limited();
    const [sub] = emulator.createSubaccounts(1);
    if (!sub) throw new Error("no subaccount");
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => admin.api.v2010.accounts(emulator.accountSid).fetch()),
    );
    expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThanOrEqual(2);
    expect((await client(sub.sid, sub.authToken, sub.sid).api.v2010.accounts(sub.sid).fetch()).sid).toBe(sub.sid);
  });

  it("refills at requestsPerSecond: after waiting Retry-After the next request passes", async () => {
    const { emulator, admin, exchanges } = limited();
    for (let i = 0; i < 3; i++) await admin.api.v2010.accounts(emulator.accountSid).fetch();
    await expect(admin.api.v2010.accounts(emulator.accountSid).fetch()).rejects.toMatchObject({ status: 429 });
    const wait = Number(exchanges.at(-1)?.headers["retry-after"]);
    expect(wait).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    expect((await admin.api.v2010.accounts(emulator.accountSid).fetch()).sid).toBe(emulator.accountSid);
  });
});

describe("rateLimit: global, with a concurrency limit", () => {
  const limited = useEmulator({
    rateLimit: { requestsPerSecond: 1000, scope: "global", maxConcurrentRequests: 2 },
  });

  it("answers 429 beyond 2 requests in flight, and reports Twilio-Concurrent-Requests", async () => {
    const { emulator, admin, exchanges } = limited();
    // Slow answers keep requests in flight, as a busy Twilio would.
    emulator.faults.add({ kind: "latency", latencyMs: 300, path: "/2010-04-01/Accounts/*.json" });
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => admin.api.v2010.accounts(emulator.accountSid).fetch()),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(refused).toEqual([
      expect.objectContaining({ status: 429, code: 20429, retryAfterMs: 1000 }),
      expect.objectContaining({ status: 429, code: 20429, retryAfterMs: 1000 }),
    ]);
    expect(emulator.stats().rateLimited).toBe(2);
    emulator.faults.clear();
    const ok = await admin.api.v2010.accounts(emulator.accountSid).fetch();
    expect(ok.sid).toBe(emulator.accountSid);
    expect(exchanges.at(-1)?.headers["twilio-concurrent-requests"]).toBe("1");
  });
});

describe("stats()", () => {
  it("counts requests and answers by status, and resets", async () => {
    const { emulator, admin, client } = harness();
    await admin.api.v2010.accounts(emulator.accountSid).fetch();
    await expect(client(emulator.accountSid, "0".repeat(32)).api.v2010.accounts.list()).rejects.toMatchObject({
      status: 401,
    });
    await fetch(`${emulator.baseUrl}/__emulator/snapshot`);
    expect(emulator.stats()).toEqual({ requests: 2, responses: { "200": 1, "401": 1 }, rateLimited: 0, dropped: 0 });
    expect(await (await fetch(`${emulator.baseUrl}/__emulator/stats`)).json()).toEqual(emulator.stats());
    expect((await fetch(`${emulator.baseUrl}/__emulator/stats`, { method: "DELETE" })).status).toBe(204);
    expect(emulator.stats()).toEqual({ requests: 0, responses: {}, rateLimited: 0, dropped: 0 });
  });
});
