/**
 * createStandardKey(): a fleet's seed keys made without HTTP (a benchmark's thousand keys must not spend
 * the rate limit it measures), yet exactly what a create over the API makes: a Standard key of that
 * account, listed and usable through the parent, its secret reported to onSecretIssued.
 */
import { describe, expect, it } from "vitest";
import { startTwilioEmulator } from "../../src/emulator/index.js";
import { SPEC_DIR } from "./helpers/contract.js";
import { useEmulator } from "./helpers/harness.js";

const harness = useEmulator({ rateLimit: { requestsPerSecond: 1000 } });

describe("createStandardKey()", () => {
  it("makes a subaccount's Standard key the parent lists and the key itself authenticates with, without a request", async () => {
    const { emulator, admin, client } = harness();
    const [sub] = emulator.createSubaccounts(2, { friendlyNamePrefix: "seed-" });
    if (!sub) throw new Error("no subaccount");
    emulator.resetStats();
    const key = emulator.createStandardKey(sub.sid, { friendlyName: "seed" });
    expect(emulator.stats().requests).toBe(0);
    expect(key.sid).toMatch(/^SK[0-9a-f]{32}$/);
    expect(emulator.keys(sub.sid)).toEqual([
      expect.objectContaining({ sid: key.sid, friendlyName: "seed", keyType: "standard" }),
    ]);
    const listed = await admin.api.v2010.accounts(sub.sid).keys.list();
    expect(listed.map((k) => k.sid)).toEqual([key.sid]);
    // As any Standard key: it reads the account's resources (not the key and account resources).
    const messages = await client(key.sid, key.secret, sub.sid)
      .api.v2010.accounts(sub.sid)
      .messages.list({ pageSize: 1 });
    expect(messages).toEqual([]);
    // Another account's key list does not have it.
    expect(emulator.keys()).toEqual([]);
  });

  it("reports the secret to onSecretIssued", async () => {
    const issued: string[] = [];
    const emulator = await startTwilioEmulator({ port: 0, specDir: SPEC_DIR, onSecretIssued: (s) => issued.push(s) });
    try {
      const key = emulator.createStandardKey();
      expect(issued).toContain(key.secret);
      expect(() => emulator.createStandardKey(`AC${"0".repeat(32)}`)).toThrow();
    } finally {
      await emulator.close();
    }
  });
});
