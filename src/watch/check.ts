/**
 * One check of `rotator watch`: does the credential every store holds still authenticate, do the stores
 * agree, and does every consumer report that it authenticates? Plus what the metrics show beside it: the
 * credential's age and how long until it is due, and the last rotation's outcome. Read-only, and bounded:
 * one call per distinct credential, one probe per consumer, one lookup of the credential's age.
 */
import type { StoredCredential } from "../../providers/contract.js";
import { credentialId, secretsOf } from "../credentials/stored.js";
import { describeOutcome, probeCredential } from "../doctor/probe.js";
import { credentialBirth } from "../engine/age.js";
import { type EngineContext, ownsRun } from "../engine/context.js";
import { stateOf } from "../engine/state/index.js";
import { errorMessage } from "../errors.js";
import { sameCredential } from "../util/credentials.js";
import { maskSid, registerSecret } from "../util/mask.js";

export interface StoreCheck {
  name: string;
  type: string;
  /** The masked id of what it holds, or null. */
  credential: string | null;
  state: "authenticated" | "refused" | "empty" | "unreadable" | "unknown";
  detail: string;
}

export interface ConsumerCheck {
  name: string;
  type: string;
  state: string;
  /** Reports the stores' credential. */
  converged: boolean;
  /** Its last Twilio call authenticated (null when the probe cannot say). */
  authenticated: boolean | null;
  detail: string;
  /** A `kubernetes` consumer's pods whose last Twilio call did not authenticate, or that did not answer. */
  podsNotAuthenticated?: string[];
}

export interface WatchCheck {
  /** 1 for the first check of this process, then 2, 3, …: "within one interval" is "in the next check". */
  check: number;
  checkedAt: string;
  healthy: boolean;
  account: string;
  /** Each problem in one line, naming the store or consumer and the masked ids. */
  problems: string[];
  stores: StoreCheck[];
  consumers: ConsumerCheck[];
  credential: { id: string; createdAt: string; ageSeconds: number; dueInSeconds: number } | null;
  lastRun: { runId: string; status: string; finishedAt: string } | null;
}

export async function checkOnce(context: EngineContext, check: number, timeoutMs: number): Promise<WatchCheck> {
  const { config } = context.loaded;
  const account = maskSid(config.twilio.accountSid);
  const problems: string[] = [];
  const reads = await Promise.all(
    context.stores.map(async (store) => {
      try {
        const { credential } = await store.read();
        for (const secret of credential === undefined ? [] : secretsOf(credential)) registerSecret(secret);
        return { store, credential, error: undefined };
      } catch (error) {
        return { store, credential: undefined, error: errorMessage(error) };
      }
    }),
  );

  // One call per distinct credential: stores that agree cost one call, not one each.
  const distinct: StoredCredential[] = [];
  for (const { credential } of reads) {
    if (credential !== undefined && !distinct.some((c) => sameCredential(c, credential))) distinct.push(credential);
  }
  const verdicts = await Promise.all(
    distinct.map((credential) =>
      probeCredential(credential, {
        baseUrl: config.twilio.baseUrl,
        timeoutMs,
        path: config.credential.verifyPath,
      }),
    ),
  );
  const stores: StoreCheck[] = reads.map(({ store, credential, error }) => {
    const base = { name: store.name, type: store.type };
    if (error !== undefined) {
      problems.push(`store "${store.name}" cannot be read: ${error}`);
      return { ...base, credential: null, state: "unreadable", detail: error };
    }
    if (credential === undefined) {
      problems.push(`store "${store.name}" holds no credential`);
      return { ...base, credential: null, state: "empty", detail: "holds no credential" };
    }
    const id = maskSid(credentialId(credential));
    const verdict = verdicts[distinct.findIndex((c) => sameCredential(c, credential))]!;
    if (verdict.outcome === "ok")
      return { ...base, credential: id, state: "authenticated", detail: describeOutcome(verdict) };
    const refused =
      verdict.outcome === "refused" || verdict.outcome === "test-credentials" || verdict.outcome === "inactive";
    problems.push(
      `store "${store.name}": ${id} of account ${maskSid(credential.accountSid)} ${refused ? "is refused by Twilio" : "could not be checked"}: ${describeOutcome(verdict)}`,
    );
    return { ...base, credential: id, state: refused ? "refused" : "unknown", detail: describeOutcome(verdict) };
  });
  if (distinct.length > 1) {
    problems.push(
      `the stores disagree (drift): ${stores.map((s) => `${s.name}: ${s.credential ?? "(none)"}`).join(", ")}`,
    );
  }

  const current = distinct.length === 1 ? distinct[0] : undefined;
  const consumers = await Promise.all(
    context.consumers.map(async (probe): Promise<ConsumerCheck> => {
      const expected = { kind: config.credential.type, id: current === undefined ? "" : credentialId(current) };
      const report = await probe.check(expected).catch((error: unknown) => ({
        state: "unreachable" as const,
        detail: errorMessage(error),
        authenticated: undefined,
      }));
      const converged = report.state === "converged";
      // A command probe says only converged or not; an http probe says whether it authenticates either way.
      const authenticated = report.authenticated ?? (converged ? true : probe.type === "command" ? null : false);
      const failing =
        report.state === "unreachable" ||
        report.state === "bad-response" ||
        report.state === "not-authenticated" ||
        authenticated === false;
      const pods = "pods" in report ? report.pods : undefined;
      const podsNotAuthenticated = pods
        ?.filter((pod) => pod.authenticated === false || pod.state === "unreachable" || pod.state === "bad-response")
        .map((pod) => pod.name);
      if (failing) {
        const which =
          podsNotAuthenticated === undefined || podsNotAuthenticated.length === 0
            ? ""
            : ` (pods not authenticated: ${podsNotAuthenticated.join(", ")})`;
        problems.push(`consumer "${probe.name}" (${probe.describe()}): ${report.detail}${which}`);
      }
      return {
        name: probe.name,
        type: probe.type,
        state: report.state,
        converged,
        authenticated,
        detail: report.detail,
        ...(podsNotAuthenticated === undefined ? {} : { podsNotAuthenticated }),
      };
    }),
  );

  let credential: WatchCheck["credential"] = null;
  if (current !== undefined) {
    const info = await context.issuer.describe(credentialId(current)).catch(() => undefined);
    // Twilio dates keys; a token's age comes from the journaled run that made it (engine/age.ts).
    const birth = await credentialBirth(context, info);
    if (info !== undefined && birth !== undefined) {
      const ageSeconds = Math.max(0, Math.floor((Date.now() - birth.at.getTime()) / 1000));
      credential = {
        id: maskSid(info.id),
        createdAt: birth.at.toISOString(),
        ageSeconds,
        dueInSeconds: config.credential.maxAgeDays * 86_400 - ageSeconds,
      };
    }
  }
  const finished = (await stateOf(context).listRuns())
    .filter((run) => ownsRun(context, run.started?.credentialKey) && run.finished !== undefined)
    .at(-1);
  const lastRun =
    finished?.finished === undefined
      ? null
      : { runId: finished.runId, status: finished.finished.status, finishedAt: finished.finished.ts };
  return {
    check,
    checkedAt: new Date().toISOString(),
    healthy: problems.length === 0,
    account,
    problems,
    stores,
    consumers,
    credential,
    lastRun,
  };
}
