/**
 * Consumer processes for e2e tests: each a real app on the public consumer library (test/fixtures/
 * consumer-app.ts) that reads its credential from one store, calls the Twilio emulator every few tens of
 * milliseconds, and serves the status and reload endpoints rotator's http probe uses, plus /stats (every 401
 * it ever saw, even ones the library then retried).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { ConsumerStatus } from "../../src/consumer/index.js";
import { root, transcript } from "./harness.js";

export interface ConsumerStats {
  calls: number;
  ok: number;
  unauthorized: number;
  otherErrors: number;
  /** Calls that failed, whatever the error (a call still under way counts in `calls` only). */
  failed: number;
  /** Every credential id it used, in order. */
  keys: string[];
  /** The most a successful call took beyond its Twilio round trips (time spent in the library), in ms. */
  maxOverheadMs: number;
  /** Calls the library made to onStoreReadFailure. */
  storeReadFailureEvents: number;
  /** The library's status() when the stats were read. */
  status: ConsumerStatus;
  /** How often it was asked its status (the probe's GET). */
  statusRequests: number;
  /** With `webhooks`: the webhooks that reached its validator, and of those the ones it answered 403. */
  webhooksReceived?: number;
  webhooksRejected?: number;
  /** With `webhooks`: its rejections by reason, and its acceptances by the fingerprint of the validating token. */
  webhookRejectedBy?: Record<string, number>;
  webhookAcceptedBy?: Record<string, number>;
}

export interface Consumer {
  name: string;
  url: string;
  /** With `webhooks`: the number it bought, whose inbound messages Twilio posts to it. */
  phoneNumber?: string;
  process: ChildProcess;
  stats(): Promise<ConsumerStats>;
  stop(): Promise<void>;
  /** The consumer's entry for a config's `consumers:`, as a YAML flow line. */
  yaml(options?: { reload?: boolean }): string;
}

export interface ConsumerOptions {
  kind?: "api-key" | "auth-token";
  ttlSeconds?: number;
  noReload?: boolean;
  callIntervalMs?: number;
  storeTimeoutSeconds?: number;
  /** Listen here instead of 127.0.0.1 and a free port (a test pod: its own 127.0.0.x and the workload's port). */
  listen?: { host: string; port: number };
  /** Start even if Twilio refuses the credential (NO_START_CHECK). */
  noStartCheck?: boolean;
  /**
   * An Auth Token app that also receives webhooks: validated through the library's webhookValidator at
   * `/webhooks/sms`, a number of its own bought pointing there (WEBHOOKS), counted in its stats.
   */
  webhooks?: boolean;
}

/** Starts consumers and stops every one of them at the end of the file (call `stopAll` in afterAll). */
export function consumerFleet(baseUrl: () => string) {
  const running: Consumer[] = [];
  return {
    running,
    async start(
      name: string,
      store: Record<string, unknown>,
      env: Record<string, string | undefined>,
      options: ConsumerOptions = {},
    ): Promise<Consumer> {
      const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/fixtures/consumer-app.ts")], {
        cwd: root,
        env: {
          ...env,
          CONSUMER_STORE: JSON.stringify(store),
          CONSUMER_KIND: options.kind ?? "api-key",
          TWILIO_BASE_URL: baseUrl(),
          TTL_SECONDS: String(options.ttlSeconds ?? 3600),
          CALL_INTERVAL_MS: String(options.callIntervalMs ?? 40),
          NO_RELOAD: options.noReload ? "1" : "0",
          STORE_TIMEOUT_SECONDS: options.storeTimeoutSeconds === undefined ? "" : String(options.storeTimeoutSeconds),
          NO_START_CHECK: options.noStartCheck ? "1" : "0",
          WEBHOOKS: options.webhooks ? "1" : "0",
          ...(options.listen === undefined
            ? {}
            : { LISTEN_HOST: options.listen.host, LISTEN_PORT: String(options.listen.port) }),
        } as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (chunk) => {
        stderr += chunk;
      });
      const { port, phoneNumber } = await new Promise<{ port: number; phoneNumber?: string }>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        lines.once("line", (line) => resolve(JSON.parse(line) as { port: number; phoneNumber?: string }));
        child.once("exit", (code) => reject(new Error(`consumer ${name} exited ${code}: ${stderr}`)));
      });
      const url = `http://${options.listen?.host ?? "127.0.0.1"}:${port}`;
      const consumer: Consumer = {
        name,
        url,
        ...(phoneNumber === undefined ? {} : { phoneNumber }),
        process: child,
        async stats() {
          return (await (await fetch(`${url}/stats`)).json()) as ConsumerStats;
        },
        async stop() {
          if (child.exitCode !== null) return;
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          await exited;
          transcript.push(stderr);
        },
        yaml({ reload = true } = {}) {
          return `  - { name: ${name}, type: http, url: "${url}/.well-known/twilio-credential"${reload ? `, reload: { url: "${url}/-/reload-credentials" }` : ""} }`;
        },
      };
      running.push(consumer);
      return consumer;
    },
    async stopAll(): Promise<void> {
      await Promise.all(running.map((consumer) => consumer.stop()));
    },
  };
}
