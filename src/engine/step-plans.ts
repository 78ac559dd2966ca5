/**
 * What each step of the table (step-table.ts) is in a plan: the changes `rotate` would make, from a preflight,
 * shown by `plan` and by `rotate` itself before it asks for confirmation on a terminal. Each change is
 * structured (`--json`) and has its line for people, plus a one-line count like terraform's ("1 key to
 * create, 2 stores to update, 1 key to revoke").
 */
import { credentialTypeOf } from "../credentials/registry.js";
import { credentialId } from "../credentials/stored.js";
import { maskSid } from "../util/mask.js";
import type { EngineContext } from "./context.js";
import type { PreflightResult } from "./preflight.js";
import { consumersDeadlineSeconds } from "./steps.js";

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
    | "retire"
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

/**
 * A change as the plan lists it for people, grouped by what it acts on, like `terraform plan`: `+` creates,
 * `~` updates, `-` revokes, `?` waits for or checks something rotator does not change itself.
 */
export interface PlanChange {
  symbol: "+" | "~" | "-" | "?";
  target: PlanTarget;
  /** The masked credential before, and after (`new key`, `revoked`); null where the change has none. */
  from: string | null;
  to: string | null;
  /** What is done, in a few words. */
  what: string;
}

/** What a change acts on: the Twilio account, a store, or a consumer; `detail` says where it is. */
export interface PlanTarget {
  kind: "twilio" | "store" | "consumer";
  name: string;
  detail: string;
}

/** A step in a plan: its entries in the JSON plan (`actions`), and its changes for people. */
export interface StepPlan {
  actions: PlanAction[];
  changes: PlanChange[];
}

/**
 * The plan as people read it (`rotator plan`, and rotate's question before it changes anything): the changes,
 * the rollback on failure, and the notes each said once. Kept under a symbol key, which JSON never shows: the
 * `--json` plan is `actions`, `steps` and `notes`, as it always was.
 */
export const FOR_PEOPLE: unique symbol = Symbol("the plan for people");

export interface PlanForPeople {
  changes: PlanChange[];
  onFailure: string;
  /** What each store's preflight noted, said once under that store. */
  storeNotes: Record<string, string[]>;
  /** The notes about the run as a whole, each once. */
  notes: string[];
}

/** Each store's notes by its name, a note the store said twice kept once. */
export function notesByStore(stores: Array<{ name: string; notes: string[] }>): Record<string, string[]> {
  return Object.fromEntries(stores.map((store) => [store.name, [...new Set(store.notes)]]));
}

/** What `plan` is shown: rotate's preflight, in the mode rotate's options give. */
export interface PlanView {
  context: EngineContext;
  preflight: PreflightResult;
  mode: PlanMode;
}

const accountOf = (view: PlanView) => maskSid(view.context.loaded.config.twilio.accountSid);
const twilioOf = (view: PlanView): PlanTarget => ({
  kind: "twilio",
  name: accountOf(view),
  detail: view.context.loaded.config.twilio.baseUrl ?? "api.twilio.com",
});
const nounOf = (view: PlanView) => view.context.issuer.labels.noun;
const oldIdOf = (view: PlanView) =>
  view.preflight.current === undefined ? undefined : credentialId(view.preflight.current);

/** Rotate's checks before anything changes (done before the run's journal exists): not a change. */
export function planPreflight(view: PlanView): StepPlan {
  const { context, preflight } = view;
  const { config } = context.loaded;
  const noun = nounOf(view);
  const oldId = oldIdOf(view);
  const currentWord = !preflight.storesRead ? "unknown (a store could not be read)" : maskSid(oldId);
  const age =
    preflight.currentAge === undefined || preflight.currentAge.skewed
      ? oldId !== undefined && preflight.currentInfo !== undefined
        ? ` (age unknown: Twilio does not say when a ${noun} was made, and no rotation of it is journaled)`
        : ""
      : ` (${preflight.currentAge.days} days old, rotates at ${config.credential.maxAgeDays})`;
  const account = accountOf(view);
  return {
    actions: [
      {
        action: "preflight",
        target: account,
        from: null,
        to: null,
        description: `preflight: admin credential for ${account}; stores ${context.stores.map((s) => s.name).join(", ")} readable, and writable as far as each can tell without writing (see notes); they agree on ${currentWord}${age}; take the lock`,
      },
    ],
    changes: [],
  };
}

export function planIssue(view: PlanView): StepPlan {
  const description = view.context.issuer.describeCreate();
  const to = `new ${nounOf(view)}`;
  return {
    actions: [{ action: "create", target: accountOf(view), from: null, to, description }],
    changes: [{ symbol: "+", target: twilioOf(view), from: null, to, what: description }],
  };
}

export function planVerify(view: PlanView): StepPlan {
  const { config } = view.context.loaded;
  const noun = nounOf(view);
  const request = `GET ${config.credential.verifyPath.replace("{AccountSid}", accountOf(view))} (up to ${config.verify.newKeyTimeoutSeconds} s)`;
  return {
    actions: [
      {
        action: "verify",
        target: `new ${noun}`,
        from: null,
        to: null,
        description: `check the new ${noun} authenticates: ${request}`,
      },
    ],
    changes: [
      {
        symbol: "?",
        target: twilioOf(view),
        from: null,
        to: `new ${noun}`,
        what: `check it authenticates: ${request}`,
      },
    ],
  };
}

/** For a type whose stores keep the previous credential (an Auth Token's): what the first write puts beside the new one. */
function keptWords(view: PlanView): string {
  const keeps = credentialTypeOf(view.context.issuer.kind).keepsPrevious;
  const oldId = oldIdOf(view);
  if (keeps === undefined || oldId === undefined) return "";
  return ` with the old ${nounOf(view)} ${maskSid(oldId)} kept beside it (${keeps.field}) ${keeps.purpose} until it is retired`;
}

/** Each store's change, in config order: written by rotator, or filled by the system it follows. */
export function planStores(view: PlanView): StepPlan {
  const { stores } = view.context;
  const noun = nounOf(view);
  const kept = keptWords(view);
  const plans = view.preflight.stores.map((f, i): { action: PlanAction; change: PlanChange } => {
    const held =
      f.snapshot === undefined
        ? "unknown"
        : maskSid(f.snapshot.credential === undefined ? undefined : credentialId(f.snapshot.credential));
    const target: PlanTarget = { kind: "store", name: f.name, detail: f.location };
    const sync = stores[i]?.sync;
    if (sync !== undefined) {
      const wait = `rotator does not write it; it follows store "${sync.from}" (asked to refresh; up to ${sync.timeoutSeconds} s)`;
      return {
        action: {
          action: "await-sync",
          target: f.name,
          from: held,
          to: `new ${noun}`,
          description: `wait for store "${f.name}" (${f.location}) to hold the new ${noun}: ${wait}`,
        },
        change: { symbol: "?", target, from: held, to: `new ${noun}`, what: `wait: ${wait}` },
      };
    }
    return {
      action: {
        action: "write",
        target: f.name,
        from: held,
        to: `new ${noun}`,
        description: `write store ${i + 1}/${stores.length} "${f.name}" (${f.location}): ${held} -> new ${noun}${kept}, read back and compare`,
      },
      change: {
        symbol: "~",
        target,
        from: held,
        to: `new ${noun}`,
        what: `write (${i + 1} of ${stores.length})${kept}, read back and compare`,
      },
    };
  });
  return { actions: plans.map((p) => p.action), changes: plans.map((p) => p.change) };
}

export function planCanaries(view: PlanView): StepPlan {
  const { context, mode, preflight } = view;
  const { config } = context.loaded;
  const noun = nounOf(view);
  const seconds = consumersDeadlineSeconds(config.verify, {
    emergency: mode.emergency ?? false,
    revokeImmediately: false,
  });
  const canaries = (mode.emergency && mode.revokeImmediately ? [] : context.consumers).filter(
    (probe) => probe.describeCanary !== undefined,
  );
  return {
    actions: canaries.map((probe) => ({
      action: "canary",
      target: probe.name,
      from: null,
      to: `new ${noun}`,
      description: `canary first: ${probe.describeCanary?.()}, and wait up to ${seconds} s for it to use the new ${noun} and authenticate before touching any other; if it does not, roll back`,
    })),
    changes: canaries.map((probe) => ({
      symbol: "?",
      target: consumerTarget(probe.name, preflight),
      from: null,
      to: `new ${noun}`,
      what: `canary first: ${probe.describeCanary?.()} (up to ${seconds} s); roll back if it does not use the new ${noun}`,
    })),
  };
}

const consumerTarget = (name: string, preflight: PreflightResult): PlanTarget => ({
  kind: "consumer",
  name,
  detail: preflight.consumers.find((c) => c.name === name)?.location ?? "",
});

export function planConsumers(view: PlanView): StepPlan {
  const { preflight, mode } = view;
  const noun = nounOf(view);
  const { verify } = view.context.loaded.config;
  const revokeImmediately = (mode.emergency ?? false) && (mode.revokeImmediately ?? false);
  const seconds = consumersDeadlineSeconds(verify, { emergency: mode.emergency ?? false, revokeImmediately: false });
  const what = revokeImmediately
    ? "reload and ask once (--revoke-immediately: the revoke does not wait for it)"
    : `reload and wait until it uses the new ${noun} (up to ${seconds} s${mode.emergency ? ", the emergency deadline" : ""})${webhookWords(view)}`;
  return {
    actions: [
      {
        action: "await-consumers",
        target: preflight.consumers.map((c) => c.name).join(", "),
        from: null,
        to: `new ${noun}`,
        description:
          preflight.consumers.length === 0
            ? "consumers: none configured"
            : `${awaitWords(preflight.consumers.length, noun, verify, mode)}: ${preflight.consumers.map((c) => `${c.name} (${c.location}, now: ${c.report.detail})`).join("; ")}`,
      },
    ],
    changes: preflight.consumers.map((c) => ({
      symbol: "?",
      target: consumerTarget(c.name, preflight),
      from: c.report.reported ?? null,
      to: `new ${noun}`,
      what: `${what}; now: ${c.report.detail}`,
    })),
  };
}

/**
 * For a type that keeps its previous credential (an Auth Token's): what a consumer that reports the tokens it validates
 * webhooks with must report, before the revoke and after the retire. Nothing for other types.
 */
function webhookWords(view: PlanView): string {
  const keeps = credentialTypeOf(view.context.issuer.kind).keepsPrevious;
  if (keeps === undefined || oldIdOf(view) === undefined) return "";
  return `; if it reports the ${nounOf(view)}s it validates webhooks with, it must validate with both before ${keeps.revokeName} and with the new one only after the retire`;
}

export function planRevoke(view: PlanView): StepPlan {
  const action = revokeAction(view.context, view.preflight, oldIdOf(view), nounOf(view));
  // Only a revoke that will happen is a change; otherwise the line says why there is none (or none known).
  const revokes = action.to === "revoked";
  return {
    actions: [action],
    changes: [
      {
        symbol: revokes ? "-" : "?",
        target: twilioOf(view),
        from: action.from,
        to: action.to,
        what: action.description,
      },
    ],
  };
}

/**
 * After the revoke, for a type that keeps its previous credential beside the new one (an Auth Token's, for webhooks):
 * the second write that retires it from each store, after the time it is kept (at once in an emergency, at the cost
 * the type states).
 */
export function planRetire(view: PlanView): StepPlan {
  const keeps = credentialTypeOf(view.context.issuer.kind).keepsPrevious;
  const oldId = oldIdOf(view);
  if (keeps === undefined || oldId === undefined) return { actions: [], changes: [] };
  const noun = nounOf(view);
  const old = maskSid(oldId);
  const seconds = keeps.keepSeconds(view.context.loaded.config.credential);
  const when = view.mode.emergency
    ? `right after ${keeps.revokeName} (--emergency: ${keeps.retiredAtOnceCost})`
    : `${seconds} s after ${keeps.revokeName} (${keeps.keepSetting}: ${keeps.keepReason})`;
  const writable = view.preflight.stores.filter((_, i) => view.context.stores[i]?.sync === undefined);
  const from = `new ${noun} + previous ${old}`;
  const to = `new ${noun}`;
  const plans = writable.map((f, i): { action: PlanAction; change: PlanChange } => ({
    action: {
      action: "retire",
      target: f.name,
      from,
      to,
      description: `retire the previous ${noun} ${old} from store ${i + 1}/${writable.length} "${f.name}" (${f.location}) ${when}: write the new ${noun} alone, read back and compare`,
    },
    change: {
      symbol: "~",
      target: { kind: "store", name: f.name, detail: f.location },
      from,
      to,
      what: `retire the previous ${noun} (${i + 1} of ${writable.length}) ${when}; if a store fails, the ones retired get it back and \`rotator resume\` retires it`,
    },
  }));
  // Stores others fill from those: waited for until they drop the previous one too.
  const synced = view.preflight.stores.flatMap((f, i) => {
    const sync = view.context.stores[i]?.sync;
    if (sync === undefined) return [];
    const wait = `rotator does not write it; it follows store "${sync.from}" (asked to refresh; up to ${sync.timeoutSeconds} s)`;
    const target: PlanTarget = { kind: "store", name: f.name, detail: f.location };
    return [
      {
        action: {
          action: "await-sync" as const,
          target: f.name,
          from,
          to,
          description: `wait for store "${f.name}" (${f.location}) to drop the previous ${noun} ${old}, after the retire: ${wait}`,
        },
        change: { symbol: "?" as const, target, from, to, what: `wait, after the retire: ${wait}` },
      },
    ];
  });
  const all = [...plans, ...synced];
  return { actions: all.map((p) => p.action), changes: all.map((p) => p.change) };
}

/** Bookkeeping, not a change: in the JSON plan only. */
export function planFinish(view: PlanView): StepPlan {
  return {
    actions: [
      {
        action: "finish",
        target: accountOf(view),
        from: null,
        to: null,
        description: "finish: journal the outcome, release the lock",
      },
    ],
    changes: [],
  };
}

/** The rollback, as rotate takes it on any failure before the revoke: not a change, said after the changes. */
export function planRollback(view: PlanView): StepPlan {
  const reversed = [...view.context.stores].reverse().map((s) => s.name);
  return {
    actions: [
      {
        action: "on-failure",
        target: reversed.join(", "),
        from: null,
        to: null,
        description: `on any failure before the revoke: restore ${reversed.join(", ")} (in that order) and delete the new ${nounOf(view)}`,
      },
    ],
    changes: [],
  };
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
