/**
 * An in-process world for engine tests: an API-key issuer and three stores that log every call and hold
 * what they are given, and http-typed consumers answering from a switch. A call can fail (`fail`) or hang
 * for ever (`hang`: a crash frozen at that call, for writing a journal as a killed process leaves it).
 * Integration tests prove the real parts work; these drive the engine's order and its journal.
 */
import type { RestorePoint, StoredCredential, StoreProvider, StoreSnapshot } from "../../providers/contract.js";
import { StoreError } from "../../providers/errors.js";
import { validateConfig } from "../../src/config/load.js";
import type { ConsumerProbe } from "../../src/consumer-probes/probe.js";
import type { IssuedCredential, Issuer } from "../../src/credentials/issuer.js";
import type { EngineContext } from "../../src/engine/context.js";
import { silentReporter } from "../../src/engine/reporter.js";
import { maskSid } from "../../src/util/mask.js";

export const ACCOUNT = `AC${"a".repeat(32)}`;
export const OLD = {
  kind: "api-key",
  accountSid: ACCOUNT,
  apiKeySid: `SK${"0".repeat(32)}`,
  apiKeySecret: "old-secret-value-000",
} as const satisfies StoredCredential;
export const NEW_SID = `SK${"1".repeat(32)}`;
export const NEW = {
  kind: "api-key",
  accountSid: ACCOUNT,
  apiKeySid: NEW_SID,
  apiKeySecret: "new-secret-value-111",
} as const satisfies StoredCredential;

/**
 * `write:` fails the write (fatal); `refuse:` refuses it, someone else having changed the store, which keeps their
 * value (needs-operator, as every provider's check-and-set); `refuse-prepare:` does so in prepare; `refuse-after:`
 * refuses after the write landed.
 */
export type Failure =
  | "issue"
  | "verify"
  | "revoke"
  | `write:${string}`
  | `refuse:${string}`
  | `refuse-after:${string}`
  | `refuse-prepare:${string}`
  | `rollback:${string}`;

export interface WorldOptions {
  stateDir: string;
  log?: string[];
  fail?: Failure[];
  /** A call (as logged: `write:b`, `rollback:a`, `revoke:old`) that never returns. */
  hang?: string;
  /** What each store holds at the start (default: the old key). */
  held?: Record<string, StoredCredential | undefined>;
  /** Consumers, each reporting the credential `using()` names for it. */
  consumers?: Array<{ name: string; using: () => string }>;
  /** Seconds consumers may take (the config's verify.consumersTimeoutSeconds). */
  consumersTimeoutSeconds?: number;
  env?: Record<string, string | undefined>;
}

export const STORES = ["a", "b", "c"] as const;
const never = () => new Promise<never>(() => {});

function fakeIssuer(log: string[], fail: Set<string>, hang: string | undefined): Issuer {
  const step = async (name: string) => {
    log.push(name);
    if (name === hang) await never();
  };
  return {
    kind: "api-key",
    labels: { noun: "key", long: "API key", word: "key", revoked: "deleted" },
    revokeEvenWhenOldIsDead: false,
    describeCreate: () => "create a key",
    describeRevoke: (old) => `revoke ${old}`,
    describeCreating: () => "creating a new API key",
    describeRevoking: (old) => `revoking the old key ${old}`,
    async preflight() {
      return { problems: [], notes: [] };
    },
    adoptNew() {},
    refusedBeforeCreating: () => false,
    friendlyNameFor: (runId) => `t-${runId}`,
    async checkAdmin() {
      log.push("checkAdmin");
    },
    async describe(id) {
      return { id, friendlyName: "seed", createdAt: new Date(Date.now() - 100 * 86_400_000) };
    },
    async issue(): Promise<IssuedCredential> {
      await step("issue");
      if (fail.has("issue")) throw new Error("Twilio said no");
      return { id: NEW_SID, credential: NEW, createdAt: new Date() };
    },
    async checkCanVerify() {
      return undefined;
    },
    async authenticatesNow() {
      return true;
    },
    async verifyAuthenticates() {
      await step("verify");
      if (fail.has("verify")) throw new Error("never authenticated");
      return { attempts: 1, elapsedMs: 1 };
    },
    async findCreatedBy() {
      return [];
    },
    describeDiscardedUnrecorded: (id) => ({ text: `deleted ${id}`, certain: true }),
    async discard(id) {
      await step(`discard:${id === NEW_SID ? "new" : id}`);
      return "deleted";
    },
    async revoke(id) {
      await step(`revoke:${id === OLD.apiKeySid ? "old" : id}`);
      if (fail.has("revoke")) throw new Error("Twilio 500");
      return "deleted";
    },
    async confirmRefused() {
      log.push("confirmRefused");
      return true;
    },
  };
}

function fakeStore(
  name: string,
  log: string[],
  fail: Set<string>,
  hang: string | undefined,
  start: StoredCredential | undefined,
): StoreProvider {
  let held = start;
  let version = 1;
  const snapshot = (): StoreSnapshot => ({ credential: held, version: String(version) });
  const step = async (call: string) => {
    log.push(call);
    if (call === hang) await never();
  };
  return {
    name,
    type: "dotenv-file",
    capabilities: {
      checkAndSet: false,
      versioned: false,
      fence: "deadline",
      rollbackFencesWrites: false,
    },
    describe: () => `fake ${name}`,
    async identity() {
      return { key: `fake:${name}`, display: `fake ${name}` };
    },
    async preflight() {
      log.push(`preflight:${name}`);
      return { snapshot: snapshot(), notes: [] };
    },
    async read() {
      return snapshot();
    },
    async prepare(): Promise<RestorePoint> {
      await step(`prepare:${name}`);
      if (fail.has(`refuse-prepare:${name}`)) {
        held = { ...OLD, apiKeySid: `SK${"9".repeat(32)}`, apiKeySecret: "someone-elses-value" };
        throw new StoreError("needs-operator", name, "changed since preflight; nothing written");
      }
      return { version };
    },
    async write(next) {
      await step(`write:${name}`);
      if (fail.has(`write:${name}`)) throw new StoreError("fatal", name, "denied");
      if (fail.has(`refuse:${name}`)) {
        held = { ...OLD, apiKeySid: `SK${"9".repeat(32)}`, apiKeySecret: "someone-elses-value" };
        throw new StoreError("needs-operator", name, "someone else changed it; nothing overwritten");
      }
      held = next;
      version += 1;
      if (fail.has(`refuse-after:${name}`)) throw new StoreError("needs-operator", name, "changed as it was written");
      return String(version);
    },
    async rollback() {
      await step(`rollback:${name}`);
      if (fail.has(`rollback:${name}`)) throw new StoreError("needs-operator", name, "cannot");
      held = OLD;
    },
    async release() {
      log.push(`release:${name}`);
    },
  };
}

function fakeConsumer(name: string, using: () => string): ConsumerProbe {
  return {
    name,
    type: "http",
    describe: () => `fake consumer ${name}`,
    async check(expected) {
      const id = using();
      return id === expected.id
        ? { state: "converged", reported: maskSid(id), detail: `uses ${maskSid(id)}`, authenticated: true }
        : { state: "other-credential", reported: maskSid(id), detail: `still on ${maskSid(id)}` };
    },
  };
}

/** A context over the fake world; the config is the same for the same options, so a resume binds the run. */
export function fakeContext(options: WorldOptions): EngineContext {
  const log = options.log ?? [];
  const fail = new Set<string>(options.fail ?? []);
  const issuer = fakeIssuer(log, fail, options.hang);
  const stores = STORES.map((name) =>
    fakeStore(name, log, fail, options.hang, options.held === undefined ? OLD : options.held[name]),
  );
  const consumers = options.consumers ?? [];
  const config = validateConfig(
    {
      version: 1,
      twilio: { accountSid: ACCOUNT, admin: { authToken: { env: "X" } } },
      credential: { type: "api-key" },
      stores: stores.map((s) => ({ name: s.name, type: "dotenv-file", path: `/nonexistent/${s.name}.env` })),
      consumers: consumers.map((c) => ({ name: c.name, type: "http", url: `http://127.0.0.1:9/${c.name}` })),
      ...(consumers.length === 0
        ? {}
        : { verify: { consumersTimeoutSeconds: options.consumersTimeoutSeconds ?? 0, consumersPollSeconds: 0.1 } }),
    },
    "test.yaml",
  );
  return {
    loaded: {
      config,
      file: "test.yaml",
      baseDir: "/",
      admin: { accountSid: ACCOUNT, username: ACCOUNT, password: "x", passwordSource: "env X" },
    },
    issuer,
    stores,
    refs: stores.map((s) => ({ name: s.name, identity: `fake:${s.name}`, display: `fake ${s.name}` })),
    credentialKey: "aaaaaa-api-key-test",
    adminSwitches: [],
    legacyCredentialKeys: [],
    consumers: consumers.map((c) => fakeConsumer(c.name, c.using)),
    stateDir: options.stateDir,
    reporter: silentReporter,
    env: options.env ?? {},
  };
}
