/**
 * Starts the emulator: state, spec-bound router, faults, and one HTTP listener serving api, iam and
 * accounts paths alike.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type AdminOperations, handleAdmin } from "./admin.js";
import { type FaultController, Faults } from "./faults.js";
import { ACCOUNT_SID, AUTH_TOKEN, newAuthToken, newSid } from "./format.js";
import { Router } from "./router.js";
import { createRequestListener } from "./server.js";
import { TwilioSpecs } from "./spec.js";
import { type EmulatorSnapshot, EmulatorState, type KeyType } from "./state.js";

export interface TwilioEmulatorOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** The main account's SID; random (AC + 32 hex) by default. */
  accountSid?: string;
  /** The main account's primary auth token; random (32 hex) by default. */
  authToken?: string;
  /** Folder with Twilio's OpenAPI specs; default: the copy in vendor/twilio-oai. */
  specDir?: string;
  /** Called with every key secret and auth token the emulator creates (tests scan output for them). */
  onSecretIssued?: (secret: string) => void;
}

export interface EmulatorKey {
  sid: string;
  friendlyName: string;
  keyType: KeyType;
  dateCreated: Date;
}

export interface TwilioEmulator {
  /** Origin to give the Twilio client, e.g. http://127.0.0.1:4010. */
  baseUrl: string;
  /** The main account. */
  accountSid: string;
  /** The main account's current primary auth token: after a promotion, the promoted one. */
  readonly authToken: string;
  /** Stops listening and closes every open socket, keep-alive ones included. */
  close(): Promise<void>;
  /** Secret-free, deterministic JSON of all state, for before/after equality. */
  snapshot(): EmulatorSnapshot;
  /** Keys of an account (default: the main account), in creation order. */
  keys(accountSid?: string): EmulatorKey[];
  /** Seeds a Main key, which Twilio only creates in the Console. */
  createMainKey(accountSid?: string): { sid: string; secret: string };
  faults: FaultController;
}

export async function startTwilioEmulator(options: TwilioEmulatorOptions = {}): Promise<TwilioEmulator> {
  const accountSid = options.accountSid ?? newSid("AC");
  if (!ACCOUNT_SID.test(accountSid)) {
    throw new Error("twilio emulator: accountSid must be AC followed by 32 hexadecimal digits");
  }
  const authToken = options.authToken ?? newAuthToken();
  // The message never repeats the value: a mistyped token may still be someone's real one.
  if (!AUTH_TOKEN.test(authToken)) throw new Error("twilio emulator: authToken must be 32 hexadecimal digits");
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`twilio emulator: port must be an integer from 0 to 65535, got ${port}`);
  }

  const specs = TwilioSpecs.load(options.specDir);
  const router = new Router(specs);
  const state = new EmulatorState({ accountSid, authToken });
  state.onSecretIssued = options.onSecretIssued;
  options.onSecretIssued?.(authToken);
  const faults = new Faults();
  const closing = new AbortController();

  const keys = (sid: string = accountSid): EmulatorKey[] => {
    requireAccount(state, sid);
    return state
      .keys(sid)
      .map((k) => ({ sid: k.sid, friendlyName: k.friendlyName, keyType: k.type, dateCreated: k.dateCreated }));
  };
  const createMainKey = (sid: string = accountSid) => {
    requireAccount(state, sid);
    const { key, secret } = state.createKey(sid, { type: "main", friendlyName: "Main key (seeded by the emulator)" });
    return { sid: key.sid, secret };
  };
  const ops: AdminOperations = { snapshot: () => state.snapshot(), keys, createMainKey, faults };

  let baseUrl = "";
  const server = createServer(
    createRequestListener({
      state,
      specs,
      router,
      faults,
      closing: closing.signal,
      origin: () => baseUrl,
      admin: (req, res, url, body) => handleAdmin(ops, req, res, url, body),
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) =>
      reject(new Error(`twilio emulator: cannot listen on ${host}:${port}`, { cause: error })),
    );
    server.listen(port, host, () => resolve());
  });
  baseUrl = `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`;

  let closed: Promise<void> | undefined;
  return {
    baseUrl,
    accountSid,
    get authToken() {
      return state.account(accountSid)?.authToken.value ?? authToken;
    },
    faults,
    snapshot: ops.snapshot,
    keys,
    createMainKey,
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        closing.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function requireAccount(state: EmulatorState, sid: string): void {
  if (!state.account(sid)) throw new Error(`twilio emulator: no account ${sid}`);
}

/** A wildcard listen address is not one a client can dial; IPv6 literals need brackets in a URL. */
function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}
