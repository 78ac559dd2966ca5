/**
 * The fleet's pieces (issue #12) without servers: templates and their checks at load, the FriendlyName
 * pattern, the adaptive limiter on a fake clock, the progress line, the fleet's exit code, and one
 * account's config expanded from the fleet's. The whole flow is in test/e2e/fleet.test.ts.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../src/config/load.js";
import type { Reporter } from "../../src/engine/reporter.js";
import { ConfigError, ExitCode } from "../../src/errors.js";
import { globPattern } from "../../src/fleet/accounts.js";
import { AdaptiveLimiter } from "../../src/fleet/limiter.js";
import { FleetProgress, formatDuration } from "../../src/fleet/progress.js";
import { fleetExitCode, oneLine } from "../../src/fleet/run.js";
import { expandString, placeholderProblems, placeholdersIn } from "../../src/fleet/template.js";
import { sharedStoreProblems, unitConfig } from "../../src/fleet/units.js";
import { packageRoot } from "../../src/util/package-root.js";

const PARENT = `AC${"a".repeat(32)}`;
const CUSTOMER = `AC${"b".repeat(32)}`;
const TOKEN = { TWILIO_AUTH_TOKEN: "x".repeat(32) };

function fakeClock() {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

describe("templates", () => {
  it("fill in {accountSid} and {friendlyName}; {{ and }} are literal braces", () => {
    const values = { accountSid: CUSTOMER, friendlyName: "cust-7" };
    expect(expandString("twilio/{accountSid}", values)).toBe(`twilio/${CUSTOMER}`);
    expect(expandString("customers/{friendlyName}/{{HOME}}", values)).toBe("customers/cust-7/{HOME}");
    expect(placeholdersIn("{a}{{b}}{c}")).toEqual(["a", "c"]);
  });

  it("name an unknown placeholder with its path and the nearest known one; outside a fleet none is allowed", () => {
    const raw = { stores: [{ path: "/x/{acountSid}.env" }], consumers: [{ url: "http://{friendlyname}/" }] };
    const problems = placeholderProblems(raw, true);
    expect(problems[0]).toMatch(
      /^stores\[0\]\.path: unknown placeholder \{acountSid\} \(did you mean \{accountSid\}\?\)/,
    );
    expect(problems[1]).toMatch(/^consumers\[0\]\.url: unknown placeholder \{friendlyname\}/);
    expect(placeholderProblems({ stores: [{ path: "/x/{accountSid}.env" }] }, false)[0]).toContain(
      "stores[0].path: {accountSid} is filled in per account only in a fleet config",
    );
    expect(placeholderProblems({ stores: [{ path: "/x/{accountSid}.env" }] }, true)).toEqual([]);
  });

  it("are checked when the config is loaded: exit 2, naming the file and the placeholder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rotator-fleet-unit-"));
    const file = join(dir, "fleet.yaml");
    await writeFile(
      file,
      stringify({
        version: 1,
        twilio: { accountSid: PARENT, admin: { authToken: { env: "TWILIO_AUTH_TOKEN" } } },
        accounts: { discover: { friendlyName: "cust-*" } },
        credential: { type: "api-key" },
        stores: [{ name: "app", type: "dotenv-file", path: "/etc/app/{customer}.env" }],
      }),
    );
    const error = await loadConfig(file, TOKEN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(ExitCode.badInput);
    expect((error as ConfigError).message).toContain(file);
    expect((error as ConfigError).problems.join("\n")).toContain("stores[0].path: unknown placeholder {customer}");
  });
});

describe("the fleet example", () => {
  it("config/examples/fleet.example.yaml is a valid fleet; an account's stores and consumers are its own", async () => {
    const loaded = await loadConfig(join(packageRoot(), "config", "examples", "fleet.example.yaml"), {
      ...TOKEN,
      VAULT_SECRET_ID: "s",
    });
    expect(loaded.config.accounts?.discover).toEqual({ friendlyName: "cust-*", status: "active" });
    const unit = unitConfig(loaded, { sid: CUSTOMER, friendlyName: "cust-7" });
    expect(unit.config.twilio.accountSid).toBe(CUSTOMER);
    expect(unit.admin?.accountSid).toBe(CUSTOMER);
    expect(unit.config.accounts).toBeUndefined();
    expect(JSON.stringify(unit.config.stores)).toContain(`/etc/app/customers/${CUSTOMER}.env`);
    expect(JSON.stringify(unit.config.stores)).toContain("customers/cust-7/twilio");
    expect(JSON.stringify(unit.config.stores)).toContain(`twilio/${CUSTOMER}`);
    expect(JSON.stringify(unit.config.consumers)).toContain("http://cust-7.internal:8080/");
    // An account Twilio does not list under the parent has no FriendlyName to fill in: that account fails.
    expect(() => unitConfig(loaded, { sid: CUSTOMER, friendlyName: undefined })).toThrow(ConfigError);
  });
});

describe("stores two accounts would share", () => {
  it("the example's accounts each have their own; two accounts with one FriendlyName do not", async () => {
    const loaded = await loadConfig(join(packageRoot(), "config", "examples", "fleet.example.yaml"), {
      ...TOKEN,
      VAULT_SECRET_ID: "s",
    });
    const other = `AC${"1".repeat(32)}`;
    expect(
      sharedStoreProblems(loaded, [
        { sid: CUSTOMER, friendlyName: "cust-7" },
        { sid: other, friendlyName: "cust-8" },
      ]),
    ).toEqual([]);
    // The example's Vault path is made of the FriendlyName alone: two accounts named alike would share it.
    const problems = sharedStoreProblems(loaded, [
      { sid: CUSTOMER, friendlyName: "cust-7" },
      { sid: other, friendlyName: "cust-7" },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^stores\[\d\] \(\S+\): accounts AC…\w{4} \(cust-7\) and AC…1111 \(cust-7\) would write the same store/,
    );
  });
});

describe("globPattern", () => {
  it("matches * and ? anchored, and everything else literally", () => {
    expect(globPattern("cust-*").test("cust-17")).toBe(true);
    expect(globPattern("cust-*").test("xcust-17")).toBe(false);
    expect(globPattern("a?c").test("abc")).toBe(true);
    expect(globPattern("a.c").test("abc")).toBe(false);
    expect(globPattern("(x)+").test("(x)+")).toBe(true);
  });
});

describe("AdaptiveLimiter", () => {
  it("stays under the configured rate", async () => {
    const clock = fakeClock();
    const limiter = new AdaptiveLimiter({ requestsPerSecond: 10, concurrency: 4, ...clock });
    const at: number[] = [];
    for (let i = 0; i < 50; i++) {
      await limiter.acquire();
      at.push(clock.t);
    }
    // 50 requests at 10/s: about 4.9 s (less the small burst), never more than 11 in any second.
    expect(clock.t).toBeGreaterThanOrEqual(4_700);
    for (const start of at) expect(at.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(11);
    expect(limiter.stats().requests).toBe(50);
  });

  it("on a 429 pauses everyone for Retry-After, halves the concurrency and slows down once, then recovers", async () => {
    const clock = fakeClock();
    const limiter = new AdaptiveLimiter({ requestsPerSecond: 20, concurrency: 8, ...clock });
    for (let i = 0; i < 20; i++) await limiter.acquire();
    const heardAt = clock.t;
    limiter.answered(429, 2_000);
    // The other requests in flight hear the same 429: one decrease, not three.
    limiter.answered(429, 2_000);
    limiter.answered(429, 2_000);
    expect(limiter.concurrency).toBe(4);
    expect(limiter.rate).toBeLessThan(20);
    expect(limiter.stats()).toMatchObject({ throttled: 3, decreases: 1, lowestConcurrency: 4 });
    await limiter.acquire();
    expect(clock.t).toBeGreaterThanOrEqual(heardAt + 2_000);
    // Quiet seconds: one more account a second, and the rate back up to (never above) its cap.
    await clock.sleep(10_000);
    expect(limiter.concurrency).toBe(8);
    await clock.sleep(10_000);
    expect(limiter.rate).toBe(20);
  });

  it("without a configured rate is paced by 429s alone", async () => {
    const clock = fakeClock();
    const limiter = new AdaptiveLimiter({ concurrency: 2, ...clock });
    for (let i = 0; i < 100; i++) await limiter.acquire();
    expect(clock.t).toBe(0);
    expect(limiter.rate).toBeUndefined();
    limiter.answered(429, undefined);
    expect(limiter.rate).toBeGreaterThanOrEqual(1);
    expect(limiter.concurrency).toBe(1);
    limiter.answered(200, undefined);
    expect(limiter.stats().throttled).toBe(1);
  });
});

describe("FleetProgress", () => {
  it("counts done, failed and remaining with an ETA, one line per account in a log", () => {
    const lines: string[] = [];
    const reporter: Reporter = { step() {}, info: (text) => lines.push(text), warn() {} };
    let now = 0;
    const progress = new FleetProgress(reporter, 4, { now: () => now });
    progress.started();
    progress.started();
    now = 10_000;
    progress.finished(true, "a: completed");
    expect(lines.at(-1)).toBe("[1/4] a: completed; 1 done, 0 failed, 3 remaining (1 running), ETA 30 s");
    now = 20_000;
    progress.finished(false, "b: failed");
    expect(progress.summary()).toBe("1 done, 1 failed, 2 remaining (0 running), ETA 20 s");
    expect(formatDuration(65_000)).toBe("1m 05s");
  });

  it("on a terminal redraws one live line instead", () => {
    const drawn: string[][] = [];
    const reporter: Reporter = { step() {}, info() {}, warn() {}, live: (l) => void drawn.push(l), liveDone() {} };
    const progress = new FleetProgress(reporter, 1, { now: () => 0 });
    progress.started();
    progress.finished(true, "a");
    progress.end();
    expect(drawn.at(-1)?.[0]).toMatch(/^accounts: 1 done, 0 failed, 0 remaining \(0 running\), 0 s elapsed$/);
  });
});

describe("fleetExitCode and oneLine", () => {
  it("a fleet ends with the most pressing of its accounts' exit codes", () => {
    expect(fleetExitCode([0, 0])).toBe(0);
    expect(fleetExitCode([0, ExitCode.badInput, ExitCode.awaitingConsumers])).toBe(ExitCode.awaitingConsumers);
    expect(fleetExitCode([ExitCode.rolledBack, ExitCode.needsOperator])).toBe(ExitCode.needsOperator);
    expect(fleetExitCode([ExitCode.interrupted, 99])).toBe(99);
  });

  it("an error's lines are joined: the reason under a headline is kept", () => {
    expect(oneLine("preflight failed:\n  - store app: cannot read\n")).toBe(
      "preflight failed: - store app: cannot read",
    );
    expect(oneLine("x".repeat(300))).toHaveLength(200);
  });
});
