/**
 * `watch --metrics-port`: what watch saw, as Prometheus metrics (prom-client, on its own registry so
 * nothing global leaks in). Labels carry masked ids and names from the config only.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry } from "prom-client";
import type { WatchCheck } from "./check.js";

export class WatchMetrics {
  readonly registry = new Registry();
  readonly #age: Gauge;
  readonly #dueIn: Gauge;
  readonly #lastRunTime: Gauge;
  readonly #lastRunStatus: Gauge;
  readonly #store: Gauge;
  readonly #consumerConverged: Gauge;
  readonly #consumerAuthenticated: Gauge;
  readonly #podsNotAuthenticated: Gauge;
  readonly #healthy: Gauge;
  readonly #lastCheck: Gauge;
  readonly #checks: Counter;
  readonly #refusals: Counter;

  constructor() {
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: [this.registry] });
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      new Counter({ name, help, labelNames, registers: [this.registry] });
    this.#age = gauge(
      "rotator_credential_age_seconds",
      "Age of the credential the stores hold, from Twilio's date_created.",
      ["account", "credential"],
    );
    this.#dueIn = gauge(
      "rotator_credential_due_in_seconds",
      "Seconds until the credential is due for rotation (negative: overdue).",
      ["account", "credential"],
    );
    this.#lastRunTime = gauge(
      "rotator_last_rotation_timestamp_seconds",
      "When the last run of this config finished (Unix time).",
      ["account"],
    );
    this.#lastRunStatus = gauge("rotator_last_rotation_status", "1 for the outcome of the last run of this config.", [
      "account",
      "status",
    ]);
    this.#store = gauge(
      "rotator_store_authenticated",
      "1 when the credential this store holds authenticates with Twilio.",
      ["account", "store"],
    );
    this.#consumerConverged = gauge(
      "rotator_consumer_converged",
      "1 when the consumer reports the credential the stores hold.",
      ["consumer"],
    );
    this.#podsNotAuthenticated = gauge(
      "rotator_consumer_pods_not_authenticated",
      "A kubernetes consumer's Ready pods whose last Twilio call did not authenticate, or that did not answer.",
      ["consumer"],
    );
    this.#consumerAuthenticated = gauge(
      "rotator_consumer_authenticated",
      "1 when the consumer's last Twilio call authenticated.",
      ["consumer"],
    );
    this.#healthy = gauge("rotator_watch_healthy", "1 when the last check found nothing wrong.", ["account"]);
    this.#lastCheck = gauge("rotator_watch_last_check_timestamp_seconds", "When watch last checked (Unix time).");
    this.#checks = counter("rotator_watch_checks_total", "Checks made, by result.", ["result"]);
    // What the "20003 rising" alert watches: each check adds one per store whose credential Twilio refused
    // when watch called it, and one per consumer whose own last call was refused.
    this.#refusals = counter(
      "rotator_authentication_failures_total",
      "20003 (HTTP 401) refusals checks found: a store's credential (watch's own call) or a consumer's last call.",
      ["account", "source", "name"],
    );
  }

  update(check: WatchCheck): void {
    const { account } = check;
    this.#age.reset();
    this.#dueIn.reset();
    if (check.credential !== null) {
      const labels = { account, credential: check.credential.id };
      this.#age.set(labels, check.credential.ageSeconds);
      this.#dueIn.set(labels, check.credential.dueInSeconds);
    }
    this.#lastRunStatus.reset();
    if (check.lastRun !== null) {
      this.#lastRunTime.set({ account }, Date.parse(check.lastRun.finishedAt) / 1000);
      this.#lastRunStatus.set({ account, status: check.lastRun.status }, 1);
    }
    for (const store of check.stores) {
      this.#store.set({ account, store: store.name }, store.state === "authenticated" ? 1 : 0);
      if (store.state === "refused") this.#refusals.inc({ account, source: "store", name: store.name });
    }
    for (const consumer of check.consumers) {
      this.#consumerConverged.set({ consumer: consumer.name }, consumer.converged ? 1 : 0);
      if (consumer.authenticated !== null)
        this.#consumerAuthenticated.set({ consumer: consumer.name }, consumer.authenticated ? 1 : 0);
      if (consumer.authenticated === false) this.#refusals.inc({ account, source: "consumer", name: consumer.name });
      if (consumer.podsNotAuthenticated !== undefined)
        this.#podsNotAuthenticated.set({ consumer: consumer.name }, consumer.podsNotAuthenticated.length);
    }
    this.#healthy.set({ account }, check.healthy ? 1 : 0);
    this.#lastCheck.set(Date.parse(check.checkedAt) / 1000);
    this.#checks.inc({ result: check.healthy ? "healthy" : "failing" });
  }

  /** Serve GET /metrics; resolves with the port once listening. */
  async serve(port: number, host: string): Promise<{ port: number; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      this.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": this.registry.contentType });
          res.end(text);
        },
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    };
  }
}
