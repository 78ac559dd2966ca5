/**
 * `rotator doctor`: the checklist for living with Twilio credentials, as a program. It examines the
 * credential of the environment, of an env file, or of every store of a config; runs the offline checks
 * (shapes), then one bounded call per credential (does it authenticate), and on 20003 the calls that tell
 * Twilio's causes apart (online.ts). With a config it also checks the admin credential, that every store
 * holds the same credential (drift) of the config's account, and what the journals say about a dead one.
 * Read-only: nothing is written anywhere, no lock is taken. Secrets are never printed; ids are masked.
 */
import type { StoredCredential } from "../../providers/contract.js";
import type { LoadedConfig } from "../config/load.js";
import { credentialTypeOf } from "../credentials/registry.js";
import { credentialId, secretsOf } from "../credentials/stored.js";
import type { EngineContext } from "../engine/context.js";
import type { StateBackend } from "../engine/state/index.js";
import { stateOf } from "../engine/state/index.js";
import { diagnoseAdmin20003 } from "../twilio/diagnose.js";
import { sameCredential } from "../util/credentials.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { consumerFindings } from "./consumers.js";
import { CONSOLE, type Finding, failed, passed } from "./findings.js";
import { offlineChecks, sidsUsable } from "./offline.js";
import { type AdminAccess, adminCheck, onlineChecks } from "./online.js";
import type { Endpoint } from "./probe.js";
import { type Candidate, candidatesFromEnvFile, candidatesFromVariables, fieldsOf, titleOf } from "./sources.js";

export interface DoctorOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Examine the environment's TWILIO_* variables. */
  fromEnv: boolean;
  envFile?: string | undefined;
  /** A loaded config and its engine context: every store, the admin credential, the journals. */
  config?: { loaded: LoadedConfig; context: EngineContext } | undefined;
  /**
   * Without a config: the state directory's journals, which may say which run revoked a dead credential (with a
   * config, its own state is read).
   */
  journals?: StateBackend | undefined;
  /** An emulator's origin for env and env-file credentials (a config names its own twilio.baseUrl). */
  baseUrl?: string | undefined;
  /** Skip the calls to Twilio. */
  offline?: boolean;
  onProgress?: (line: string) => void;
}

export interface DoctorReport {
  healthy: boolean;
  findings: Finding[];
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const findings: Finding[] = [];
  const candidates: Candidate[] = [];
  if (options.fromEnv) candidates.push(...candidatesFromVariables(options.env, "environment"));
  if (options.envFile !== undefined) {
    try {
      candidates.push(...(await candidatesFromEnvFile(options.envFile, options.env)));
    } catch (error) {
      findings.push(
        failed("env-file-readable", `env file ${options.envFile}`, {
          cause: `cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
          fix: "pass --dotenv with the path of the file the app loads",
          certainty: "certain",
        }),
      );
    }
  }
  for (const candidate of candidates) {
    for (const field of ["authToken", "apiKeySecret"] as const) registerSecret(candidate.values[field]);
  }

  let admin: AdminAccess | undefined;
  let adminRefused = false;
  let journal: ((id: string) => string | undefined) | undefined;
  const config = options.config;
  if (config === undefined && options.journals !== undefined) journal = await journalLookup(options.journals);
  if (config !== undefined) {
    const { loaded, context } = config;
    journal = await journalLookup(stateOf(context));
    const shape = loaded.admin;
    if (shape === undefined) {
      // twilio.admin.authToken.fromStore: the admin is the stores' own token, checked with the stores below.
      findings.push(
        passed(
          "admin-authenticates",
          "admin credential (twilio.admin)",
          "the stores' own Auth Token (fromStore): checked with each store",
        ),
      );
    } else if (options.offline) {
      findings.push(passed("admin-authenticates", "admin credential (twilio.admin)", "not checked (--offline)"));
    } else {
      const access: AdminAccess = { accountSid: shape.accountSid, username: shape.username, password: shape.password };
      options.onProgress?.("checking the admin credential");
      const check = await adminCheck(access, { baseUrl: loaded.config.twilio.baseUrl }, diagnoseAdmin20003(shape));
      findings.push(check.finding);
      if (check.ok) admin = access;
      adminRefused = check.refused;
    }
    candidates.push(...(await storeCandidates(context, findings)));
  }

  const seen: Array<{ candidate: Candidate; credential: StoredCredential }> = [];
  for (const candidate of candidates) {
    options.onProgress?.(`checking ${candidate.subject}`);
    const offline = offlineChecks(candidate);
    findings.push(...offline.findings);
    const credential = offline.cleaned ?? offline.credential;
    if (credential !== undefined) seen.push({ candidate, credential });
    if (offline.credential === undefined || options.offline) continue;
    if (!sidsUsable(offline.cleaned ?? offline.credential)) {
      findings.push(
        failed("authenticates", candidate.subject, {
          cause: "not tried: the SIDs are malformed (see above), so Twilio would refuse them",
          fix: "fix the SIDs first, then run doctor again",
          certainty: "certain",
        }),
      );
      continue;
    }
    const endpoint: Endpoint =
      candidate.store !== undefined && config !== undefined
        ? { baseUrl: config.loaded.config.twilio.baseUrl }
        : {
            baseUrl: options.baseUrl ?? config?.loaded.config.twilio.baseUrl,
            region: candidate.region,
            edge: candidate.edge,
          };
    findings.push(
      ...(await onlineChecks(candidate.subject, offline.credential, offline.cleaned, {
        endpoint,
        keyPath: candidate.store !== undefined ? config?.loaded.config.credential.verifyPath : undefined,
        admin: admin !== undefined && config !== undefined ? admin : undefined,
        adminRefused,
        journal,
        idOf: credentialId,
      })),
    );
  }
  if (config !== undefined) {
    const stores = seen.filter((s) => s.candidate.store !== undefined);
    findings.push(...agreement(config.loaded, stores));
    // Consumers are asked about the one credential the stores agree on (not --offline: they are asked over the network).
    const agreed = stores.every((s) => sameCredential(s.credential, stores[0]?.credential)) ? stores[0] : undefined;
    if (!options.offline) findings.push(...(await consumerFindings(config.context, agreed?.credential)));
  }
  return { healthy: findings.every((finding) => finding.ok), findings };
}

/** Every store's credential as a candidate; a store that cannot be read, or holds none, is a finding. */
async function storeCandidates(context: EngineContext, findings: Finding[]): Promise<Candidate[]> {
  const type = credentialTypeOf(context.loaded.config.credential.type);
  const fields = fieldsOf(type);
  const out: Candidate[] = [];
  for (const store of context.stores) {
    const subject = `store "${store.name}" (${store.describe()})`;
    let credential: StoredCredential | undefined;
    try {
      credential = (await store.read()).credential;
    } catch (error) {
      findings.push(
        failed("store-readable", subject, {
          cause: error instanceof Error ? error.message : String(error),
          fix: "make the store readable with the credentials the config gives (see the message), then run doctor again",
          certainty: "certain",
        }),
      );
      continue;
    }
    if (credential === undefined) {
      findings.push(
        failed("variables", subject, {
          cause: `holds no ${titleOf(type)}: ${fields.join(", ")} missing or empty`,
          fix: "write the current credential into it (`rotator rotate` fills empty stores), with the field names the config gives",
          certainty: "certain",
        }),
      );
      continue;
    }
    for (const secret of secretsOf(credential)) registerSecret(secret);
    out.push({
      subject,
      kind: type.type,
      store: store.name,
      values: Object.fromEntries(
        fields.flatMap((field) => (credential[field] === undefined ? [] : [[field, credential[field]]])),
      ),
      // A store's values are named by rotator's field names in findings (each store maps them to its own).
      names: Object.fromEntries(fields.map((field) => [field, field])),
      sourceProblems: [],
    });
  }
  return out;
}

/** Stores agree (drift), and hold a credential of the config's account. */
function agreement(
  loaded: LoadedConfig,
  stores: Array<{ candidate: Candidate; credential: StoredCredential }>,
): Finding[] {
  const findings: Finding[] = [];
  const account = loaded.config.twilio.accountSid;
  for (const { candidate, credential } of stores) {
    if (credential.accountSid === account) continue;
    findings.push(
      failed("account-matches-config", candidate.subject, {
        cause: `holds a credential of account ${maskSid(credential.accountSid)}, but twilio.accountSid is ${maskSid(account)} (staging credentials in production?)`,
        fix: "put a credential of the config's account in this store, or point the config at the account the store belongs to",
        certainty: "certain",
        console: CONSOLE.dashboard,
      }),
    );
  }
  const first = stores[0];
  if (first === undefined) return findings;
  const differing = stores.filter((s) => !sameCredential(s.credential, first.credential));
  if (differing.length === 0) {
    findings.push(
      passed("stores-agree", "stores", `${stores.length} store(s) hold ${maskSid(credentialId(first.credential))}`),
    );
    return findings;
  }
  const held = stores.map(
    ({ candidate, credential }) =>
      `${candidate.store}: ${maskSid(credentialId(credential))}${credentialId(credential) === credentialId(first.credential) && !sameCredential(credential, first.credential) ? " (same id, different secret)" : ""}`,
  );
  findings.push(
    failed("stores-agree", "stores", {
      cause: `the stores disagree (drift): ${held.join(", ")}`,
      fix: "make every store hold the credential the apps use (the one that authenticates above), then run doctor again; rotate refuses to run on drift",
      certainty: "certain",
    }),
  );
  return findings;
}

/**
 * What the journals say about a credential id: revoked or discarded, by which run, when. Read from the config's
 * state (the state directory, or the PostgreSQL database every host shares).
 */
export async function journalLookup(state: StateBackend): Promise<(id: string) => string | undefined> {
  const index = new Map<string, string>();
  for (const run of await state.listRuns()) {
    for (const record of run.records) {
      if (record.event === "old-credential-revoked") {
        index.set(record.oldId, `revoked by rotator run ${run.runId} at ${record.ts}`);
      } else if (record.event === "credential-discarded") {
        index.set(record.newId, `discarded by the rollback of rotator run ${run.runId} at ${record.ts}`);
      }
    }
  }
  return (id) => index.get(id);
}
