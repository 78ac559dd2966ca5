/**
 * Starts the emulator: state, spec-bound router, faults, limits, and one HTTP listener serving api, iam
 * and accounts paths alike, in every Region it holds.
 */
import { type ClockMove, type ClockView, OffsetClock } from "../server-kit/clock.js";
import { closeServer, listen, urlHost } from "../server-kit/listener.js";
import { type AdminOperations, handleAdmin } from "./admin.js";
import { type EmulatorBehaviourInput, parseBehaviour } from "./behaviour.js";
import { type FaultController, Faults } from "./faults.js";
import { ACCOUNT_SID, AUTH_TOKEN, newAuthToken, newSid } from "./format.js";
import { RateLimiter, type RateLimitInput } from "./rate-limit.js";
import { DEFAULT_REGION, DEFAULT_REGIONS, REGION } from "./region.js";
import { Router } from "./router.js";
import { createRequestListener } from "./server.js";
import { TwilioSpecs } from "./spec.js";
import {
  type AccountStatus,
  type EmulatorSnapshot,
  EmulatorState,
  type KeyType,
  SUBACCOUNT_LIMIT,
  subaccountLimitReached,
} from "./state.js";
import { type EmulatorStats, StatsCounter } from "./stats.js";
import { EmulatorWebhooks } from "./webhooks/controller.js";

export interface TwilioEmulatorOptions {
  /**
   * The emulator's clock (epoch milliseconds) for the dates it records: date_created of accounts, keys
   * and tokens. Default Date.now; the sandbox seeds its key "91 days ago" with it.
   */
  clock?: () => number;
  /**
   * How far the emulator's clock runs from `clock` (milliseconds; negative: behind). -91 days dates the keys
   * and tokens made now 91 days ago; `moveClock` (or POST /__emulator/clock) moves it later, so what was made
   * before ages. Default 0.
   */
  clockOffsetMs?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** The main account's SID; random (AC + 32 hex) by default. */
  accountSid?: string;
  /** The main account's primary auth token in US1; random (32 hex) by default. */
  authToken?: string;
  /** Folder with Twilio's OpenAPI specs; default: the copy in vendor/twilio-oai. */
  specDir?: string;
  /** Called with every key secret and auth token the emulator creates (tests scan output for them). */
  onSecretIssued?: (secret: string) => void;
  /**
   * Twilio Regions whose credentials every account holds (each its own auth tokens; keys live in one);
   * default us1, ie1, au1. Requests for any other Region fail to authenticate (20003).
   */
  regions?: readonly string[];
  /** Subaccounts allowed per main account (21480 beyond); default Twilio's 1000. */
  subaccountLimit?: number;
  /** Choices where Twilio's documentation is silent; see behaviour.ts. */
  behaviour?: EmulatorBehaviourInput;
  /** Throttle API requests with 429 (20429) and Retry-After; see rate-limit.ts. Off by default. */
  rateLimit?: RateLimitInput;
  /**
   * After a promote (or a reset of the primary), how long webhooks are still signed with the primary it
   * replaced, as Twilio's propagation does; default 0. Changeable later with `webhooks.configure()`.
   */
  signingLagMs?: number;
}

export interface EmulatorKey {
  sid: string;
  friendlyName: string;
  keyType: KeyType;
  dateCreated: Date;
}

/** Where an operation on an account's credentials applies; default US1. */
export interface RegionOption {
  region?: string;
}

/** The emulator's time now (ISO 8601) and how far it runs from the real clock, in seconds (negative: behind). */
export type EmulatorClock = ClockView;

export interface EmulatorSubaccount {
  sid: string;
  friendlyName: string;
  /** Its primary token in US1. */
  authToken: string;
}

export interface TwilioEmulator {
  /** Origin to give the Twilio client, e.g. http://127.0.0.1:4010. */
  baseUrl: string;
  /** The main account. */
  accountSid: string;
  /** The main account's current primary auth token in US1: after a promotion, the promoted one. */
  readonly authToken: string;
  /** Regions the emulator holds credentials in. */
  readonly regions: readonly string[];
  /** Stops listening and closes every open socket, keep-alive ones included. */
  close(): Promise<void>;
  /** Secret-free, deterministic JSON of all state, for before/after equality. */
  snapshot(): EmulatorSnapshot;
  /** Keys of an account (default: the main account), in creation order; of one Region when given. */
  keys(accountSid?: string, options?: RegionOption): EmulatorKey[];
  /** Seeds a Main key, which Twilio only creates in the Console. */
  createMainKey(accountSid?: string, options?: RegionOption): { sid: string; secret: string };
  /**
   * Seeds a Standard key as a create over the API would make it, without HTTP (so without counting against
   * a rate limit): a fleet's thousand keys for a benchmark. Reported to onSecretIssued.
   */
  createStandardKey(
    accountSid?: string,
    options?: RegionOption & { friendlyName?: string },
  ): { sid: string; secret: string };
  /** An account's current primary auth token (a subaccount's, or the main account's in another Region). */
  primaryAuthToken(accountSid?: string, options?: RegionOption): string;
  /**
   * Creates (or replaces) an account's secondary token behind the rotator's back, as someone in the
   * Console would; returns it. Reported to onSecretIssued.
   */
  createSecondaryToken(accountSid?: string, options?: RegionOption): string;
  /** Deletes the secondary token; false when there was none. */
  deleteSecondaryToken(accountSid?: string, options?: RegionOption): boolean;
  /** Promotes the secondary (the old primary dies at once) and returns the new primary; throws without one. */
  promote(accountSid?: string, options?: RegionOption): string;
  /** Twilio's security reset: a new primary replaces the old, which dies at once; returns the new one. */
  rotatePrimaryToken(accountSid?: string, options?: RegionOption): string;
  /** Sets any account's status, the main account's included, as Twilio does for billing or abuse. */
  setAccountStatus(accountSid: string, status: AccountStatus): void;
  /** The account's test credentials (made on first call): a test Account SID and test Auth Token. */
  testCredentials(accountSid?: string): { accountSid: string; authToken: string };
  /** Creates `count` subaccounts of the main account cheaply (no HTTP), named `{prefix}{i}`. */
  createSubaccounts(
    count: number,
    options?: { friendlyNamePrefix?: string; ownerAccountSid?: string },
  ): EmulatorSubaccount[];
  /** The emulator's clock: its time now and how far it runs from the real one. */
  clock(): EmulatorClock;
  /** Set the clock's offset from the real one, or move it by `advanceMs` (negative: back). */
  moveClock(move: ClockMove): EmulatorClock;
  /** Counters of API traffic since start (or the last resetStats()). */
  stats(): EmulatorStats;
  resetStats(): void;
  faults: FaultController;
  /** Phone numbers, signed webhooks, what receivers answered, inbound traffic (see webhooks/controller.ts). */
  webhooks: EmulatorWebhooks;
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
  const regions = options.regions ?? DEFAULT_REGIONS;
  for (const region of regions) {
    if (!REGION.test(region)) throw new Error(`twilio emulator: region ${region} is not like us1, ie1 or au1`);
  }
  if (!regions.includes(DEFAULT_REGION)) throw new Error("twilio emulator: regions must include us1");
  const subaccountLimit = options.subaccountLimit ?? SUBACCOUNT_LIMIT;
  if (!Number.isInteger(subaccountLimit) || subaccountLimit < 0) {
    throw new Error(`twilio emulator: subaccountLimit must be a whole number, got ${subaccountLimit}`);
  }
  const behaviour = parseBehaviour(options.behaviour);
  const limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit);

  const specs = TwilioSpecs.load(options.specDir);
  const router = new Router(specs);
  options.onSecretIssued?.(authToken);
  const serverClock = new OffsetClock("twilio emulator", options.clock ?? Date.now, options.clockOffsetMs ?? 0);
  const now = serverClock.now;
  const clock = (): EmulatorClock => serverClock.view();
  const moveClock = (move: ClockMove): EmulatorClock => serverClock.move(move);
  const state = new EmulatorState(
    {
      accountSid,
      authToken,
      regions,
      subaccountLimit,
      onSecretIssued: options.onSecretIssued,
    },
    now,
  );
  const faults = new Faults();
  const stats = new StatsCounter();
  const closing = new AbortController();
  const webhooks = new EmulatorWebhooks(state, closing.signal, {
    ...(options.signingLagMs === undefined ? {} : { signingLagMs: options.signingLagMs }),
  });

  const account = (sid: string) => {
    const found = state.account(sid);
    if (!found) throw new Error(`twilio emulator: no account ${sid}`);
    return found;
  };
  const regionOf = (opts: RegionOption | undefined): string => {
    const region = opts?.region ?? DEFAULT_REGION;
    if (!state.regions.includes(region)) throw new Error(`twilio emulator: the emulator holds no region ${region}`);
    return region;
  };
  const keys = (sid: string = accountSid, opts?: RegionOption): EmulatorKey[] => {
    account(sid);
    return state
      .keys(sid, opts?.region === undefined ? undefined : regionOf(opts))
      .map((k) => ({ sid: k.sid, friendlyName: k.friendlyName, keyType: k.type, dateCreated: k.dateCreated }));
  };
  const createMainKey = (sid: string = accountSid, opts?: RegionOption) => {
    account(sid);
    const { key, secret } = state.createKey(sid, {
      type: "main",
      friendlyName: "Main key (seeded by the emulator)",
      region: regionOf(opts),
    });
    return { sid: key.sid, secret };
  };
  const createStandardKey = (sid: string = accountSid, opts?: RegionOption & { friendlyName?: string }) => {
    account(sid);
    const { key, secret } = state.createKey(sid, {
      type: "standard",
      friendlyName: opts?.friendlyName ?? "seeded by the emulator",
      region: regionOf(opts),
    });
    return { sid: key.sid, secret };
  };
  const tokensOf = (sid: string, opts: RegionOption | undefined) => {
    const tokens = state.tokens(account(sid).sid, regionOf(opts));
    if (!tokens) throw new Error(`twilio emulator: account ${sid} has no tokens in ${regionOf(opts)}`);
    return tokens;
  };
  const primaryAuthToken = (sid: string = accountSid, opts?: RegionOption) => tokensOf(sid, opts).primary.value;
  const createSecondaryToken = (sid: string = accountSid, opts?: RegionOption) =>
    state.createSecondaryToken(account(sid).sid, regionOf(opts)).value;
  const deleteSecondaryToken = (sid: string = accountSid, opts?: RegionOption) =>
    state.deleteSecondaryToken(account(sid).sid, regionOf(opts));
  const promote = (sid: string = accountSid, opts?: RegionOption) => {
    const promoted = state.promoteSecondaryToken(account(sid).sid, regionOf(opts));
    if (!promoted) throw new Error(`twilio emulator: account ${sid} has no secondary token to promote`);
    return promoted.value;
  };
  const rotatePrimaryToken = (sid: string = accountSid, opts?: RegionOption) =>
    state.rotatePrimaryToken(account(sid).sid, regionOf(opts)).value;
  const setAccountStatus = (sid: string, status: AccountStatus) => {
    state.setStatus(account(sid).sid, status);
  };
  const testCredentials = (sid: string = accountSid) => {
    const test = state.testCredentials(account(sid).sid);
    return { accountSid: test.accountSid, authToken: test.token.value };
  };
  const createSubaccounts = (
    count: number,
    opts: { friendlyNamePrefix?: string; ownerAccountSid?: string } = {},
  ): EmulatorSubaccount[] => {
    if (!Number.isInteger(count) || count < 0) {
      throw new Error(`twilio emulator: count must be a whole number, got ${count}`);
    }
    const owner = account(opts.ownerAccountSid ?? accountSid).sid;
    const prefix = opts.friendlyNamePrefix ?? "subaccount-";
    const first = state.subaccounts(owner).length;
    // All or none: a fleet that does not fit is refused before any subaccount is made.
    if (first + count > state.subaccountLimit) throw subaccountLimitReached();
    const created: EmulatorSubaccount[] = [];
    for (let i = 0; i < count; i++) {
      const name = `${prefix}${first + i}`;
      // FriendlyName is at most 64 characters on Twilio (20002), here as over the API.
      if (name.length > 64) throw new Error(`twilio emulator: friendly name ${name} is over 64 characters`);
      const sub = state.createSubaccount(owner, name);
      created.push({ sid: sub.sid, friendlyName: sub.friendlyName, authToken: primaryAuthToken(sub.sid) });
    }
    return created;
  };
  const ops: AdminOperations = {
    snapshot: () => state.snapshot(),
    keys,
    createMainKey,
    createSecondaryToken,
    deleteSecondaryToken,
    promote,
    rotatePrimaryToken,
    setAccountStatus,
    testCredentials,
    createSubaccounts,
    clock,
    moveClock,
    stats: () => stats.view(),
    resetStats: () => stats.reset(),
    faults,
    webhooks,
  };

  let baseUrl = "";
  const server = createRequestListener({
    state,
    specs,
    router,
    faults,
    behaviour,
    limiter,
    stats,
    webhooks,
    closing: closing.signal,
    origin: () => baseUrl,
    admin: (req, res, url, body) => handleAdmin(ops, req, res, url, body),
  });
  const boundPort = await listen(server, port, host).catch((error: unknown) => {
    throw new Error(`twilio emulator: cannot listen on ${host}:${port}`, { cause: error });
  });
  baseUrl = `http://${urlHost(host)}:${boundPort}`;

  let closed: Promise<void> | undefined;
  return {
    baseUrl,
    accountSid,
    get authToken() {
      return state.tokens(accountSid)?.primary.value ?? authToken;
    },
    regions: state.regions,
    faults,
    snapshot: ops.snapshot,
    keys,
    createMainKey,
    createStandardKey,
    primaryAuthToken,
    createSecondaryToken,
    deleteSecondaryToken,
    promote,
    rotatePrimaryToken,
    setAccountStatus,
    testCredentials,
    createSubaccounts,
    clock,
    moveClock,
    stats: ops.stats,
    resetStats: ops.resetStats,
    webhooks,
    close() {
      closed ??= (() => {
        closing.abort();
        webhooks.close();
        return closeServer(server);
      })();
      return closed;
    },
  };
}
