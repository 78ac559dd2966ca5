/**
 * An app on the consumer library goes on calling Twilio through an outage of its store: Secrets Manager (a moto
 * instance of this file's own) stopped with SIGSTOP for 30 s, so connections hang rather than being refused,
 * while the app calls the Twilio emulator every 50 ms with a TTL of 1 s. Not one call fails, none spends more
 * than 1 s beyond its Twilio round trip in the library, and the failed reads show in the app's status and
 * callback; once the store answers again the app reads it again (and takes a key written meanwhile). After a
 * 20003 with the store still frozen, the re-read is bounded: the call fails with the 20003 within the store
 * deadline instead of hanging.
 *
 * Issue #17 (6): with Secrets Manager frozen, an app had 482 failed Twilio calls while its cached key was valid.
 */
import { randomUUID } from "node:crypto";
import { CreateSecretCommand, PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TwilioCredentials } from "../../src/consumer/index.js";
import { isTwilioApiError } from "../../src/twilio/client.js";
import { awsClient, type RunningServers, startServers } from "../harness/servers.js";
import { type ConsumerStats, consumerFleet } from "./consumer-fleet.js";
import { adminClient, until, useE2e } from "./harness.js";

const e2e = useE2e();
const fleet = consumerFleet(() => e2e.emulator.baseUrl);
const OUTAGE_MS = 30_000;
const STORE_TIMEOUT_SECONDS = 2;

let own: RunningServers<"aws">;
/** The moto process is stopped (SIGSTOP) while a test runs; every exit path lets it go on. */
let frozen = false;
const freeze = () => {
  process.kill(own.pid("aws")!, "SIGSTOP");
  frozen = true;
};
const thaw = () => {
  if (frozen) process.kill(own.pid("aws")!, "SIGCONT");
  frozen = false;
};

beforeAll(async () => {
  own = await startServers(["aws"]);
  e2e.onTeardown(() => fleet.stopAll());
}, 120_000);
afterAll(async () => {
  thaw();
  await own?.stop();
});

async function newKey(name: string) {
  const key = await adminClient(e2e.emulator).api.v2010.accounts(e2e.emulator.accountSid).newKeys.create({
    friendlyName: name,
  });
  return { sid: key.sid, secret: key.secret };
}

/** A secret on this file's moto holding `key`, and the store entry an app reads it with. */
async function awsSecret(key: { sid: string; secret: string }) {
  const ws = await e2e.workspace(0);
  ws.secrets.push(key.secret);
  const secretId = `outage/${randomUUID()}`;
  const client = awsClient(own.endpoints);
  try {
    await client.send(new CreateSecretCommand({ Name: secretId, SecretString: secretValue(key) }));
  } finally {
    client.destroy();
  }
  const { aws } = own.endpoints;
  return {
    secretId,
    entry: { name: "aws", type: "aws-secrets-manager", secretId, region: aws.region, endpoint: aws.endpoint },
    env: { ...ws.env, AWS_ACCESS_KEY_ID: aws.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.secretAccessKey },
  };
}

function secretValue(key: { sid: string; secret: string }): string {
  return JSON.stringify({ accountSid: e2e.emulator.accountSid, apiKeySid: key.sid, apiKeySecret: key.secret });
}

describe("an app through a 30 s outage of its store (Secrets Manager frozen, connections hang)", () => {
  it("calls Twilio every 50 ms: 0 failed calls, none over 1 s beyond its round trip; the failed reads are reported", async () => {
    const key = await newKey("outage");
    const secret = await awsSecret(key);
    const app = await fleet.start("app", secret.entry, secret.env, {
      ttlSeconds: 1,
      callIntervalMs: 50,
      storeTimeoutSeconds: STORE_TIMEOUT_SECONDS,
    });
    // Warm: calls going through, and a background re-read or two after the TTL, all answered.
    await until(
      async () => (await app.stats()).status.store.lastReadAt !== undefined && (await app.stats()).ok >= 40,
      30_000,
    );
    const before = await app.stats();
    expect(before.failed).toBe(0);
    expect(before.status.store).toMatchObject({ readFailures: 0, consecutiveFailures: 0 });

    freeze();
    const frozenAt = Date.now();
    let during: ConsumerStats;
    try {
      // The outage lasts 30 s, and its reads are seen failing (each after the 2 s store deadline).
      await until(async () => {
        during = await app.stats();
        return Date.now() - frozenAt >= OUTAGE_MS && during.status.store.readFailures >= 3;
      }, OUTAGE_MS + 60_000);
    } finally {
      thaw();
    }
    const outageCalls = during!.calls - before.calls;
    // It kept calling all along (one call every 50 ms plus its round trip; a busy machine makes fewer).
    expect(outageCalls).toBeGreaterThan(100);
    expect(during!.failed).toBe(0);
    expect(during!.unauthorized).toBe(0);
    expect(during!.maxOverheadMs).toBeLessThan(1000);
    expect(during!.keys).toEqual([key.sid]);
    expect(during!.status).toMatchObject({
      keySid: key.sid,
      authenticated: true,
      store: {
        consecutiveFailures: expect.any(Number),
        lastError: `store "aws" did not answer within ${STORE_TIMEOUT_SECONDS} s`,
      },
    });
    expect(during!.status.store.consecutiveFailures).toBeGreaterThanOrEqual(3);
    expect(during!.storeReadFailureEvents).toBe(during!.status.store.readFailures);

    // The store answers again: the next read succeeds, and a key written to it is taken up.
    const next = await newKey("after-outage");
    const client = awsClient(own.endpoints);
    try {
      await client.send(new PutSecretValueCommand({ SecretId: secret.secretId, SecretString: secretValue(next) }));
    } finally {
      client.destroy();
    }
    await until(async () => (await app.stats()).keys.includes(next.sid), 60_000);
    const after = await app.stats();
    expect(after.status.store).toMatchObject({ consecutiveFailures: 0 });
    expect(after.status.store.lastError).toBeUndefined();
    expect(after.status).toMatchObject({ keySid: next.sid, authenticated: true });
    expect(after.failed).toBe(0);
    expect(after.maxOverheadMs).toBeLessThan(1000);
  }, 240_000);

  it("a 20003 while the store is frozen: the re-read is bounded by the store deadline, and the 20003 is thrown", async () => {
    const key = await newKey("refused-in-outage");
    const secret = await awsSecret(key);
    const failures: string[] = [];
    const credentials = new TwilioCredentials({
      store: secret.entry,
      env: secret.env,
      ttlSeconds: 3600,
      storeTimeoutSeconds: STORE_TIMEOUT_SECONDS,
      twilioBaseUrl: e2e.emulator.baseUrl,
      onStoreReadFailure: (event) => failures.push(`${event.store}: ${event.message} (timed out: ${event.timedOut})`),
    });
    try {
      expect(await credentials.currentId()).toBe(key.sid);
      await adminClient(e2e.emulator).api.v2010.accounts(e2e.emulator.accountSid).keys(key.sid).remove();
      freeze();
      try {
        const error = await credentials
          .withClient((client) => client.api.v2010.accounts(e2e.emulator.accountSid).messages.list({ limit: 1 }))
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(isTwilioApiError(error) && error.status === 401, String(error)).toBe(true);
        expect(failures).toEqual([
          `aws: store "aws" did not answer within ${STORE_TIMEOUT_SECONDS} s (timed out: true)`,
        ]);
        expect(credentials.status()).toMatchObject({
          keySid: key.sid,
          authenticated: false,
          store: { readFailures: 1 },
        });
      } finally {
        thaw();
      }
    } finally {
      await credentials.close();
    }
  }, 60_000);
});
