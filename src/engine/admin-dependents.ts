/**
 * Configs whose admin credential is the Auth Token being rotated, as this state's journals know them (another
 * config of the account, say the API-key config whose admin is `{ authToken: { env: … } }`): the promote ends
 * that token for them too. `plan` and `rotate` name them before; after the promote the result says which of
 * them now hold a dead admin credential, as far as this host can tell (its environment, their stores).
 */

import { tokenFingerprint } from "../../providers/contract.js";
import { credentialTypeOf } from "../credentials/registry.js";
import type { EngineContext } from "./context.js";
import { describeAdmin, factsOf } from "./facts.js";
import type { RunSummary } from "./journal.js";
import { heldBy } from "./known-configs.js";
import { stateOf } from "./state/index.js";
import type { RunState } from "./steps.js";

export interface AdminDependent {
  /** The config file, as its last journaled run names it. */
  config: string;
  /** Its admin credential's source, in words. */
  admin: string;
  /** After the promote: true when it holds the old (dead) token, false when the new one, null when unknown here. */
  deadAdmin?: boolean | null;
  detail?: string;
}

type DependentContext = Pick<EngineContext, "loaded" | "issuer" | "stateDir" | "state" | "env" | "refs">;

interface Dependent {
  run: RunSummary;
  admin: Record<string, unknown>;
}

/** The other configs (latest journaled run of each) whose admin credential is this account's Auth Token. */
async function dependentsOf(context: DependentContext): Promise<Dependent[]> {
  if (!credentialTypeOf(context.issuer.kind).accountToken) return [];
  const account = context.loaded.config.twilio.accountSid;
  const latest = new Map<string, Dependent>();
  for (const run of await stateOf(context).listRuns()) {
    const started = run.started;
    const facts = started?.facts;
    if (started === undefined || facts === undefined || started.configFile === context.loaded.file) continue;
    if ((facts.adminAccount ?? started.accountSid) !== account || !("authToken" in facts.admin)) continue;
    latest.set(started.configFile ?? run.runId, { run, admin: facts.admin });
  }
  return [...latest.values()];
}

/** For plan and rotate: each such config, and what the promote will do to its admin credential. */
export async function listAdminDependents(context: DependentContext): Promise<AdminDependent[]> {
  return (await dependentsOf(context)).map(({ run, admin }) => ({
    config: run.started?.configFile ?? `the config of run ${run.runId}`,
    admin: describeAdmin(admin),
  }));
}

/** The lines plan and rotate say about them (empty when there are none). */
export function describeAdminDependents(dependents: AdminDependent[]): string[] {
  return dependents.map(
    (dependent) =>
      `config ${dependent.config} uses this account's Auth Token as its admin credential (${dependent.admin}): once the new token is promoted, it must have the new one (an environment variable updated; a store of its own written), or its commands are refused (20003)`,
  );
}

/** After the promote: which of them hold the old (now dead) token, as this host can see. */
export async function judgeAdminDependents(state: RunState): Promise<AdminDependent[]> {
  const judged: AdminDependent[] = [];
  for (const { run, admin } of await dependentsOf(state.context)) {
    const verdict = await verdictOf(state, run, admin);
    judged.push({
      config: run.started?.configFile ?? `the config of run ${run.runId}`,
      admin: describeAdmin(admin),
      ...verdict,
    });
  }
  return judged;
}

async function verdictOf(
  state: RunState,
  run: RunSummary,
  admin: Record<string, unknown>,
): Promise<{ deadAdmin: boolean | null; detail: string }> {
  const token = admin.authToken as { env?: string; fromStore?: string };
  const held = (id: string | undefined, where: string) =>
    id === state.oldId
      ? { deadAdmin: true, detail: `${where} holds the old token, which no longer works: put the new token there` }
      : id === state.newId
        ? { deadAdmin: false, detail: `${where} holds the new token` }
        : { deadAdmin: null, detail: `${where} holds neither the old token nor the new one` };
  if (token.env !== undefined) {
    const value = state.context.env[token.env];
    if (value === undefined || value === "") {
      return {
        deadAdmin: null,
        detail: `env ${token.env} is not set here, so this host cannot tell; if it holds the old token where that config runs, it is dead`,
      };
    }
    return held(tokenFingerprint(value), `env ${token.env} (as this environment has it)`);
  }
  const facts = factsOf(run);
  const index = run.started?.stores.findIndex((store) => store.name === token.fromStore) ?? -1;
  const store = run.started?.stores[index];
  if (store === undefined || facts === undefined)
    return { deadAdmin: null, detail: `its store ${token.fromStore} is not journaled` };
  if (state.context.refs.some((ref) => ref.identity === store.identity)) {
    return { deadAdmin: false, detail: `it reads store ${store.name}, one of this config's: it holds the new token` };
  }
  const read = await heldBy({ baseDir: facts.facts.baseDir }, facts.entries[index] ?? {}, state.context);
  if (read.unreadable !== undefined) {
    return { deadAdmin: null, detail: `its store ${store.name} could not be read from here: ${read.unreadable}` };
  }
  return held(read.id, `its store ${store.name} (fromStore)`);
}
