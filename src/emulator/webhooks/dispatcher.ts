/**
 * Sends the emulator's webhooks: signs each at the moment it goes out (with the token SigningKeys names
 * then), sends it, and logs what the receiver answered. Every webhook in flight is tracked, so tests can
 * wait for quiet (`idle()`) instead of sleeping, and closing the emulator aborts them.
 */
import { randomUUID } from "node:crypto";
import { fingerprintOf, iso8601, newSid } from "../format.js";
import type { PhoneNumberRecord, WebhookMethod } from "../phone-numbers.js";
import type { EmulatorState } from "../state.js";
import {
  DEFAULT_CALLER,
  incomingCallParams,
  incomingMessageParams,
  MESSAGE_STATUS_CALLBACKS,
  messageStatusParams,
  type OutboundMessage,
} from "./events.js";
import { sendWebhook, WebhookAgents } from "./http-send.js";
import { twilioSignature, webhookRequest, withoutCredentials } from "./signature.js";
import type { SigningKeys } from "./signing-keys.js";
import type { WebhookDelivery, WebhookKind, WebhookLog } from "./webhook-log.js";

/** Twilio's default: a webhook not answered within 15 seconds fails (11205 on Twilio's side). */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;

export interface WebhookSpec {
  kind: WebhookKind;
  accountSid: string;
  /** Whose token signs: the account's in this Region. */
  region: string;
  url: string;
  method: WebhookMethod;
  params: Record<string, string>;
}

export class WebhookDispatcher {
  readonly #state: EmulatorState;
  readonly #signing: SigningKeys;
  readonly #log: WebhookLog;
  readonly #agents = new WebhookAgents();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #closing: AbortSignal;
  timeoutMs = DEFAULT_WEBHOOK_TIMEOUT_MS;

  constructor(state: EmulatorState, signing: SigningKeys, log: WebhookLog, closing: AbortSignal) {
    this.#state = state;
    this.#signing = signing;
    this.#log = log;
    this.#closing = closing;
  }

  /** Sends one webhook; never rejects (a receiver that does not answer is a `failed` delivery). */
  send(spec: WebhookSpec): Promise<WebhookDelivery> {
    return this.#track(this.#send(spec));
  }

  /** An SMS to one of the numbers, sent to its SmsUrl. Throws when the number has none. */
  incomingMessage(number: PhoneNumberRecord, input: { from?: string; body?: string } = {}): Promise<WebhookDelivery> {
    const url = number.urls.SmsUrl;
    if (url === undefined) throw new Error(`phone number ${number.phoneNumber} has no SmsUrl`);
    const params = incomingMessageParams({
      accountSid: number.accountSid,
      to: number.phoneNumber,
      from: input.from ?? DEFAULT_CALLER,
      body: input.body ?? "Hello from the Twilio emulator",
    });
    return this.send({ ...this.#of(number), kind: "incoming-message", url, method: number.methods.SmsMethod, params });
  }

  /**
   * A call to one of the numbers: its VoiceUrl is asked what to do (the returned delivery), then, when the
   * number has a StatusCallback, the call's end is reported there. Throws when the number has no VoiceUrl.
   */
  incomingCall(number: PhoneNumberRecord, input: { from?: string } = {}): Promise<WebhookDelivery> {
    const url = number.urls.VoiceUrl;
    if (url === undefined) throw new Error(`phone number ${number.phoneNumber} has no VoiceUrl`);
    const call = {
      callSid: newSid("CA"),
      accountSid: number.accountSid,
      to: number.phoneNumber,
      from: input.from ?? DEFAULT_CALLER,
    };
    const asked = this.send({
      ...this.#of(number),
      kind: "incoming-call",
      url,
      method: number.methods.VoiceMethod,
      params: incomingCallParams(call, "ringing"),
    });
    const statusCallback = number.urls.StatusCallback;
    if (statusCallback !== undefined) {
      this.#track(
        asked.then(() =>
          this.#send({
            ...this.#of(number),
            kind: "call-status",
            url: statusCallback,
            method: number.methods.StatusCallbackMethod,
            params: incomingCallParams(call, "completed"),
          }),
        ),
      );
    }
    return asked;
  }

  /**
   * A created message's StatusCallback: `sent`, then `delivered` once the first was answered, after the
   * create's own answer has gone out (Twilio reports status changes asynchronously).
   */
  messageStatusCallbacks(message: OutboundMessage, region: string, url: string): void {
    const run = async () => {
      await new Promise((resolve) => setImmediate(resolve));
      for (const status of MESSAGE_STATUS_CALLBACKS) {
        if (this.#closing.aborted) return;
        await this.#send({
          kind: "message-status",
          accountSid: message.accountSid,
          region,
          url,
          method: "POST",
          params: messageStatusParams(message, status),
        });
      }
    };
    this.#track(run());
  }

  /** Resolves once no webhook is in flight or scheduled (those queued meanwhile included). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Drops kept-alive connections; in-flight requests end through the emulator's closing signal. */
  close(): void {
    this.#agents.destroy();
  }

  #of(number: PhoneNumberRecord): { accountSid: string; region: string } {
    return { accountSid: number.accountSid, region: number.region };
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  async #send(spec: WebhookSpec): Promise<WebhookDelivery> {
    const id = this.#log.nextId();
    const sentAt = iso8601(new Date(this.#state.nowMs()));
    const token = this.#signing.signingToken(spec.accountSid, spec.region);
    const request = webhookRequest(spec.url, spec.method, spec.params);
    const headers = {
      "X-Twilio-Signature": twilioSignature(token.value, request.signedUrl, request.signedParams),
      "User-Agent": "TwilioProxy/1.1",
      "I-Twilio-Idempotency-Token": randomUUID(),
    };
    let status: number | null = null;
    let error: string | null = null;
    this.#log.pending++;
    try {
      status = await sendWebhook(request, {
        headers,
        timeoutMs: this.timeoutMs,
        agents: this.#agents,
        signal: this.#closing,
      });
    } catch (cause) {
      error = cause instanceof Error ? cause.message : String(cause);
    } finally {
      this.#log.pending--;
    }
    const delivery: WebhookDelivery = {
      id,
      kind: spec.kind,
      accountSid: spec.accountSid,
      url: withoutCredentials(spec.url),
      method: spec.method,
      outcome: status === null ? "failed" : status >= 200 && status < 300 ? "accepted" : "rejected",
      status,
      error,
      signedWith: fingerprintOf(token.digest),
      params: { ...spec.params },
      sentAt,
    };
    this.#log.record(delivery);
    return delivery;
  }
}
