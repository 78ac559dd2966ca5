/**
 * Step 1 of the fixed order, shared by `plan` and `rotate` so that plan finds exactly the problems rotate
 * would hit (promise 5). Nothing here changes anything.
 */
import type { StoredCredential, StoreSnapshot } from "../../providers/contract.js";
import { isStoreError } from "../../providers/errors.js";
import type { ProbeReport } from "../consumer-probes/probe.js";
import type { CredentialInfo } from "../credentials/issuer.js";
import { credentialId, secretsOf } from "../credentials/stored.js";
import { errorMessage, PreflightError } from "../errors.js";
import { sameCredential } from "../util/credentials.js";
import { maskSid, registerSecret } from "../util/mask.js";
import { ageOf, type Birth } from "./age.js";
import type { EngineContext } from "./context.js";

export interface StoreFinding {
  name: string;
  type: string;
  location: string;
  snapshot: StoreSnapshot | undefined;
  notes: string[];
}

export interface PreflightResult {
  problems: string[];
  notes: string[];
  stores: StoreFinding[];
  /** The credential every store agrees on (holds the old secret), or undefined when all are empty. */
  current: StoredCredential | undefined;
  /** Twilio's view of the current credential, when it knows it. */
  currentInfo: CredentialInfo | undefined;
  /** How old the current credential is, when anything says (Twilio for keys, the journal for tokens). */
  currentAge: (CredentialAge & { birth: Birth }) | undefined;
  /** What each consumer reports now (judged against the current key). */
  consumers: Array<{ name: string; type: string; location: string; report: ProbeReport }>;
  /** Whether Twilio accepted the admin credential: without it, Twilio's view of the current key is unknown. */
  adminOk: boolean;
  /** Whether every store could be read: without it, which credential is current is unknown. */
  storesRead: boolean;
}

export interface PreflightOptions {
  /** The current credential may already be dead (a leak, a security reset): a dead one is a note, not a problem. */
  emergency?: boolean;
  /**
   * With `emergency`: the revoke will not wait for consumers, so one that cannot be checked now is a note (it
   * will not use the new credential in time either way), not a reason to leave a leaked credential valid.
   */
  revokeImmediately?: boolean;
  /**
   * `rotator sync`: the stores are about to be set to a credential the operator supplies, which is the cure
   * for drift; stores that disagree are a note, not a problem.
   */
  sync?: boolean;
}

export async function runPreflight(context: EngineContext, options: PreflightOptions = {}): Promise<PreflightResult> {
  const { issuer, stores, loaded } = context;
  const { noun } = issuer.labels;
  const problems: string[] = [];
  const notes: string[] = [];

  const [adminCheck, ...storeChecks] = await Promise.allSettled([
    issuer.checkAdmin(),
    ...stores.map((store) => store.preflight()),
  ]);
  const adminOk = adminCheck?.status === "fulfilled";
  if (adminCheck?.status === "rejected") problems.push(describeFailure(adminCheck.reason));

  const findings: StoreFinding[] = stores.map((store, index) => {
    const check = storeChecks[index];
    const base = { name: store.name, type: store.type, location: store.describe() };
    if (check?.status === "fulfilled") {
      for (const secret of secretsOfHeld(check.value.snapshot.credential)) registerSecret(secret);
      return { ...base, snapshot: check.value.snapshot, notes: check.value.notes };
    }
    problems.push(describeFailure(check?.reason));
    return { ...base, snapshot: undefined, notes: [] };
  });

  // Drift: every store that holds a credential must hold the same one, secret included (same id with another
  // secret means one store was hand-edited wrong).
  const holding = findings.filter((f) => f.snapshot?.credential !== undefined);
  const first = holding[0]?.snapshot?.credential;
  const drifted = first !== undefined && holding.some((f) => !sameCredential(f.snapshot!.credential!, first));
  if (drifted) {
    const lines = findings.map((f) => {
      const held = f.snapshot?.credential;
      if (f.snapshot === undefined) return `${f.name}: unreadable`;
      if (held === undefined) return `${f.name}: empty`;
      const sameIdOtherSecret =
        held.kind === first.kind && credentialId(held) === credentialId(first) && !sameCredential(held, first);
      return `${f.name}: ${maskSid(credentialId(held))}${sameIdOtherSecret ? ` (same ${noun}, different secret or account)` : ""}`;
    });
    if (options.sync) {
      notes.push(
        `the stores disagree now; sync makes every one hold the supplied ${noun}:\n      ${lines.join("\n      ")}`,
      );
    } else {
      problems.push(
        `the stores disagree on the current ${noun} (drift), so rotator cannot know which one consumers use:\n      ${lines.join("\n      ")}\n    make every store hold the same ${noun} (the one your apps use; \`rotator sync\` does it), then run again`,
      );
    }
  }
  const current = drifted ? undefined : first;

  if (current !== undefined && current.accountSid !== loaded.config.twilio.accountSid) {
    problems.push(
      `the stores hold a ${noun} of account ${maskSid(current.accountSid)}, but twilio.accountSid is ${maskSid(loaded.config.twilio.accountSid)}; point the config at the right account`,
    );
  }
  const empty = findings.filter((f) => f.snapshot !== undefined && f.snapshot.credential === undefined);
  const storesRead = findings.every((f) => f.snapshot !== undefined);
  if (storesRead && current === undefined && !drifted && empty.length === findings.length && !options.sync) {
    notes.push(`no store holds a ${noun} yet: rotate will create one, write it everywhere, and revoke nothing`);
  } else if (current !== undefined && empty.length > 0) {
    notes.push(`empty stores will receive the new ${noun}: ${empty.map((f) => f.name).join(", ")}`);
  }

  let currentInfo: CredentialInfo | undefined;
  if (adminOk && current !== undefined && !drifted) {
    try {
      currentInfo = await issuer.describe(credentialId(current), current);
      if (currentInfo?.notRotatable !== undefined && !options.sync) problems.push(currentInfo.notRotatable);
      if (currentInfo === undefined && !options.sync) {
        const message = `the stores hold ${noun} ${maskSid(credentialId(current))}, which Twilio no longer accepts (deleted, or promoted away?)`;
        if (options.emergency) {
          notes.push(
            `${message}; --emergency: rotating anyway, ${issuer.revokeEvenWhenOldIsDead ? `and the new ${noun} is promoted over the current primary` : "nothing to revoke"}`,
          );
        } else
          problems.push(
            `${message}; consumers are already failing with 20003. Rotate with --emergency to replace it, or \`rotator sync\` to the ${noun} in use`,
          );
      }
    } catch (error) {
      problems.push(`could not look up the current ${noun} in Twilio: ${errorMessage(error)}`);
    }
  }
  if (adminOk && !drifted) {
    const verifyProblem = await issuer.checkCanVerify(current).catch(() => undefined);
    if (verifyProblem !== undefined) problems.push(verifyProblem);
    if (!options.sync) {
      const own = await issuer.preflight(current, { emergency: options.emergency ?? false });
      problems.push(...own.problems);
      notes.push(...own.notes);
    }
  }
  const currentAge = await ageOf(context, currentInfo);
  if (currentInfo !== undefined && currentAge?.skewed) {
    notes.push(
      `${maskSid(currentInfo.id)} was created ${currentAge.aheadBy} ahead of this machine's clock: the clock is behind, so the credential's age (and --if-due) cannot be judged until it is fixed`,
    );
  }
  const consumers = await checkConsumers(
    context,
    current,
    problems,
    notes,
    (options.emergency ?? false) && (options.revokeImmediately ?? false),
  );
  return {
    problems,
    notes,
    stores: findings,
    current,
    currentInfo,
    currentAge,
    consumers,
    adminOk,
    storesRead,
  };
}

/** Clocks disagree by a little all the time; only more than this is skew worth a word. */
const CLOCK_TOLERANCE_MS = 5 * 60_000;

export interface CredentialAge {
  /** Whole days since creation; 0 for a credential created "in the future" within the tolerance. */
  days: number;
  /** Created more than the tolerance after this machine's now: its clock is behind. */
  skewed: boolean;
  /** How far ahead, in words, when skewed. */
  aheadBy: string;
}

/** A credential's age by this machine's clock, telling clock skew apart from a young credential. */
export function credentialAge(createdAt: Date, now: number = Date.now()): CredentialAge {
  const ms = now - createdAt.getTime();
  const skewed = ms < -CLOCK_TOLERANCE_MS;
  const ahead = -ms;
  const aheadBy =
    ahead >= 86_400_000
      ? `${Math.round(ahead / 86_400_000)} days`
      : ahead >= 3_600_000
        ? `${Math.round(ahead / 3_600_000)} hours`
        : `${Math.round(ahead / 60_000)} minutes`;
  return { days: Math.max(0, Math.floor(ms / 86_400_000)), skewed, aheadBy: skewed ? aheadBy : "" };
}

/**
 * Each consumer must answer now: one that is down would only be found after the stores were written, and
 * the run would stop as awaiting consumers for a reason known before it started.
 */
async function checkConsumers(
  context: EngineContext,
  current: StoredCredential | undefined,
  problems: string[],
  notes: string[],
  revokeImmediately: boolean,
): Promise<PreflightResult["consumers"]> {
  const expected = { kind: context.issuer.kind, id: current === undefined ? "" : credentialId(current) };
  return Promise.all(
    context.consumers.map(async (probe) => {
      const report = await probe
        .check(expected)
        .catch((error: unknown): ProbeReport => ({ state: "unreachable", detail: errorMessage(error) }));
      if (report.state === "unreachable" || report.state === "bad-response") {
        const line = `consumer "${probe.name}" (${probe.describe()}) cannot be checked: ${report.detail}`;
        if (revokeImmediately) {
          notes.push(`${line}; --revoke-immediately: the old ${context.issuer.labels.noun} is revoked without it`);
        } else problems.push(line);
      } else if (current !== undefined && report.state === "other-credential" && probe.type !== "command") {
        notes.push(`consumer "${probe.name}" ${report.detail}, not the stores' ${maskSid(expected.id)}`);
      } else if (report.state === "not-authenticated") {
        notes.push(`consumer "${probe.name}": ${report.detail}`);
      }
      return { name: probe.name, type: probe.type, location: probe.describe(), report };
    }),
  );
}

function secretsOfHeld(credential: StoredCredential | undefined): string[] {
  return credential === undefined ? [] : secretsOf(credential);
}

function describeFailure(reason: unknown): string {
  if (isStoreError(reason)) return reason.message;
  if (reason instanceof PreflightError) return reason.problems.join("\n  - ");
  return errorMessage(reason);
}
