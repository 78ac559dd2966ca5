/**
 * The steps `rotate` would take, from a preflight: shown by `plan`, and by `rotate` itself before it asks
 * for confirmation on a terminal. Each step is structured (`--json`) and has its line for people, plus a
 * one-line count like terraform's ("1 key to create, 2 stores to update, 1 key to revoke").
 */
import { credentialId } from "../../credentials/stored.js";
import type { EngineContext } from "../../engine/context.js";
import type { PreflightResult } from "../../engine/preflight.js";
import { consumersDeadlineSeconds } from "../../engine/steps.js";
import { maskSid } from "../../util/mask.js";

export interface PlanAction {
  action:
    | "preflight"
    | "create"
    | "verify"
    | "write"
    | "await-sync"
    | "canary"
    | "await-consumers"
    | "revoke"
    | "finish"
    | "on-failure";
  /** What the step acts on: the account, a store's name, the consumers, the old credential. */
  target: string;
  /** The masked credential before the step, where there is one. */
  from: string | null;
  /** The masked credential after it ("new key" before it exists; "revoked" for a revoke that will happen). */
  to: string | null;
  /** The step in words, as `plan` prints it. */
  description: string;
}

/** The run's mode as rotate's options give it: an emergency's shorter deadline, a revoke that does not wait. */
export interface PlanMode {
  emergency?: boolean;
  revokeImmediately?: boolean;
}

export function planActions(context: EngineContext, preflight: PreflightResult, mode: PlanMode = {}): PlanAction[] {
  const { config } = context.loaded;
  const { stores } = context;
  const noun = context.issuer.labels.noun;
  const oldId = preflight.current === undefined ? undefined : credentialId(preflight.current);
  const currentWord = !preflight.storesRead ? "unknown (a store could not be read)" : maskSid(oldId);
  const age =
    preflight.currentAge === undefined || preflight.currentAge.skewed
      ? oldId !== undefined && preflight.currentInfo !== undefined
        ? ` (age unknown: Twilio does not say when a ${noun} was made, and no rotation of it is journaled)`
        : ""
      : ` (${preflight.currentAge.days} days old, rotates at ${config.credential.maxAgeDays})`;
  const account = maskSid(config.twilio.accountSid);
  const actions: PlanAction[] = [
    {
      action: "preflight",
      target: account,
      from: null,
      to: null,
      description: `preflight: admin credential for ${account}; stores ${stores.map((s) => s.name).join(", ")} readable, and writable as far as each can tell without writing (see notes); they agree on ${currentWord}${age}; take the lock`,
    },
    {
      action: "create",
      target: account,
      from: null,
      to: `new ${noun}`,
      description: context.issuer.describeCreate(),
    },
    {
      action: "verify",
      target: `new ${noun}`,
      from: null,
      to: null,
      description: `check the new ${noun} authenticates: GET ${config.credential.verifyPath.replace("{AccountSid}", account)} (up to ${config.verify.newKeyTimeoutSeconds} s)`,
    },
    ...preflight.stores.map((f, i): PlanAction => {
      const held =
        f.snapshot === undefined
          ? "unknown"
          : maskSid(f.snapshot.credential === undefined ? undefined : credentialId(f.snapshot.credential));
      const sync = stores[i]?.sync;
      if (sync !== undefined) {
        return {
          action: "await-sync",
          target: f.name,
          from: held,
          to: `new ${noun}`,
          description: `wait for store "${f.name}" (${f.location}) to hold the new ${noun}: rotator does not write it; it follows store "${sync.from}" (asked to refresh; up to ${sync.timeoutSeconds} s)`,
        };
      }
      return {
        action: "write",
        target: f.name,
        from: held,
        to: `new ${noun}`,
        description: `write store ${i + 1}/${stores.length} "${f.name}" (${f.location}): ${held} -> new ${noun}, read back and compare`,
      };
    }),
    ...(mode.emergency && mode.revokeImmediately ? [] : context.consumers).flatMap((probe): PlanAction[] =>
      probe.describeCanary === undefined
        ? []
        : [
            {
              action: "canary",
              target: probe.name,
              from: null,
              to: `new ${noun}`,
              description: `canary first: ${probe.describeCanary()}, and wait up to ${consumersDeadlineSeconds(config.verify, { emergency: mode.emergency ?? false, revokeImmediately: false })} s for it to use the new ${noun} and authenticate before touching any other; if it does not, roll back`,
            },
          ],
    ),
    {
      action: "await-consumers",
      target: preflight.consumers.map((c) => c.name).join(", "),
      from: null,
      to: `new ${noun}`,
      description:
        preflight.consumers.length === 0
          ? "consumers: none configured"
          : `${awaitWords(preflight.consumers.length, noun, config.verify, mode)}: ${preflight.consumers.map((c) => `${c.name} (${c.location}, now: ${c.report.detail})`).join("; ")}`,
    },
    revokeAction(context, preflight, oldId, noun),
    {
      action: "finish",
      target: account,
      from: null,
      to: null,
      description: "finish: journal the outcome, release the lock",
    },
    {
      action: "on-failure",
      target: [...stores]
        .reverse()
        .map((s) => s.name)
        .join(", "),
      from: null,
      to: null,
      description: `on any failure before the revoke: restore ${[...stores]
        .reverse()
        .map((s) => s.name)
        .join(", ")} (in that order) and delete the new ${noun}`,
    },
  ];
  return actions;
}

/** The consumer step as rotate will take it in this mode (steps.ts awaitConsumersStep). */
function awaitWords(
  count: number,
  noun: string,
  verify: Parameters<typeof consumersDeadlineSeconds>[0],
  mode: PlanMode,
) {
  const revokeImmediately = (mode.emergency ?? false) && (mode.revokeImmediately ?? false);
  if (revokeImmediately) {
    return `reload and ask ${count} consumer(s) once (--revoke-immediately: the revoke does not wait for them)`;
  }
  const seconds = consumersDeadlineSeconds(verify, { emergency: mode.emergency ?? false, revokeImmediately: false });
  return `reload and wait for ${count} consumer(s) to use the new ${noun} (up to ${seconds} s${mode.emergency ? ", the emergency deadline" : ""})`;
}

function revokeAction(
  context: EngineContext,
  preflight: PreflightResult,
  oldId: string | undefined,
  noun: string,
): PlanAction {
  const base = { action: "revoke" as const, target: maskSid(oldId), from: maskSid(oldId), to: null };
  if (!preflight.storesRead) {
    return { ...base, description: `revoke: the old ${noun} is unknown until every store can be read` };
  }
  if (oldId !== undefined && !preflight.adminOk) {
    return {
      ...base,
      description: `revoke the old ${noun} ${maskSid(oldId)}: its state in Twilio is unknown (the admin credential was refused)`,
    };
  }
  if (oldId !== undefined && preflight.currentInfo !== undefined) {
    return { ...base, to: "revoked", description: context.issuer.describeRevoke(maskSid(oldId)) };
  }
  if (oldId !== undefined && context.issuer.revokeEvenWhenOldIsDead) {
    return {
      ...base,
      to: "revoked",
      description: context.issuer.describeRevoke(`${maskSid(oldId)} (already refused)`),
    };
  }
  if (oldId !== undefined) {
    return { ...base, description: `revoke: nothing to revoke (Twilio no longer knows ${maskSid(oldId)})` };
  }
  return { ...base, target: "none", description: `revoke: nothing to revoke (no store holds a ${noun} yet)` };
}

/** `1 key to create, 2 stores to update, 1 key to revoke`. */
export function planSummary(actions: PlanAction[], noun: string): string {
  const writes = actions.filter((a) => a.action === "write").length;
  const revokes = actions.some((a) => a.action === "revoke" && a.to === "revoked") ? 1 : 0;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return `1 ${noun} to create, ${plural(writes, "store")} to update, ${plural(revokes, noun)} to revoke`;
}
