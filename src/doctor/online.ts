/**
 * Doctor's online checks: one bounded call to see whether Twilio accepts a credential, and on 20003 the
 * calls that tell Twilio's causes apart. Twilio answers every refusal with the same 401/20003, so a cause
 * is `certain` only when a further call proves it:
 *
 * - with the credential alone: it authenticates once stray characters are removed (certain), or in another
 *   Region (certain); 20008 means test credentials, 20005 an inactive account (certain). Everything else is
 *   a list of likely causes;
 * - with an admin credential from a config that authenticates: the key exists in the account, so its
 *   secret is wrong; the key authenticates against the parent or a subaccount; the account is suspended or
 *   closed (its status); the token is not the account's current one (all certain); a journal says which
 *   rotator run revoked the key or token (certain). A key no call can find stays "deleted, or another
 *   account's" (likely: only that other account could say).
 *
 * The secret is sent to Twilio only, as the app would send it; nothing here prints it.
 */

import type { StoredCredential } from "../../providers/contract.js";
import { definitionOf } from "../credentials/registry.js";
import { maskSid } from "../util/mask.js";
import { type Cause, CONSOLE, type Finding, failed, passed } from "./findings.js";
import { describeOutcome, type Endpoint, type ProbeOutcome, probeBasic, probeCredential } from "./probe.js";
import { titleOf } from "./sources.js";

/**
 * The SID of the API key a credential logs in with (its type's field shaped as a key SID), or undefined for a
 * credential that logs in as the account (its Auth Token). What Twilio's answers mean depends on this, not on
 * which credential type it is.
 */
function keySidOf(credential: StoredCredential): string | undefined {
  const field = definitionOf(credential).fields.find((each) => each.shape === "key-sid");
  return field === undefined ? undefined : credential[field.key];
}

/** The credential in a cause: `key SK…a1b2`, "this Auth Token". */
function named(credential: StoredCredential): string {
  const keySid = keySidOf(credential);
  return keySid === undefined ? `this ${titleOf(definitionOf(credential))}` : `key ${maskSid(keySid)}`;
}

/** Twilio's Regions with their default Edge, as the helper libraries address them. */
export const KNOWN_REGIONS: ReadonlyArray<{ region: string; edge?: string }> = [
  { region: "us1" },
  { region: "ie1", edge: "dublin" },
  { region: "au1", edge: "sydney" },
];

/** The config's admin credential, once it has authenticated. */
export interface AdminAccess {
  accountSid: string;
  username: string;
  password: string;
}

export interface OnlineContext {
  endpoint: Endpoint;
  /** The GET the credential is checked with (a config's credential.verifyPath); default by kind (probe.ts). */
  keyPath?: string | undefined;
  admin?: AdminAccess | undefined;
  /** The admin credential was refused too: every credential of the account may be. */
  adminRefused?: boolean;
  /** What the journals say about a credential id (a key SID or token fingerprint), e.g. "revoked by run R". */
  journal?: ((id: string) => string | undefined) | undefined;
  /** The id journals know the credential by. */
  idOf: (credential: StoredCredential) => string;
}

/** How many subaccounts doctor tries a key or token against, at most: each is one call. */
const SUBACCOUNT_SWEEP = 20;

export async function onlineChecks(
  subject: string,
  credential: StoredCredential,
  cleaned: StoredCredential | undefined,
  context: OnlineContext,
): Promise<Finding[]> {
  const probe = (c: StoredCredential, extra: { pathAccountSid?: string } & Endpoint = {}) =>
    probeCredential(c, { ...context.endpoint, ...extra, path: context.keyPath });
  const outcome = await probe(credential);
  const region = context.endpoint.region ?? "us1";
  if (outcome.outcome === "ok") return [passed("authenticates", subject, `${describeOutcome(outcome)} in ${region}`)];
  const refused = (cause: Cause, alternatives?: Cause[]) => [failed("authenticates", subject, cause, alternatives)];
  // A stray space in the account SID ends up in the URL (a 404), elsewhere in the Basic auth (a 401).
  if (cleaned !== undefined && outcome.outcome !== "unreachable" && (await probe(cleaned)).outcome === "ok") {
    return refused({
      cause: `Twilio refuses the value as stored (${describeOutcome(outcome)}), and accepts it once the stray characters found above are removed`,
      fix: "remove the stray characters (see the format findings) where the value is stored",
      certainty: "certain",
    });
  }
  if (outcome.outcome !== "refused") return refused(notRefusal(outcome, credential.accountSid));
  const usable = cleaned ?? credential;
  for (const other of KNOWN_REGIONS.filter((r) => r.region !== region)) {
    const elsewhere = await probe(usable, {
      baseUrl: context.endpoint.baseUrl,
      region: other.region,
      edge: other.edge,
    });
    if (elsewhere.outcome === "ok") {
      return refused({
        cause: `this credential belongs to Twilio Region ${other.region}, and the call went to ${region}: credentials authenticate only in the Region that made them`,
        fix: `set TWILIO_REGION=${other.region}${other.edge ? ` and TWILIO_EDGE=${other.edge}` : ""} where the app runs (or its client's region/edge options), or use a credential created in ${region}`,
        certainty: "certain",
        console: CONSOLE.keys,
      });
    }
  }

  const journal = context.journal?.(context.idOf(usable));
  if (journal !== undefined) {
    return refused({
      cause: `${named(usable)} was ${journal}, and this copy was not updated`,
      fix: "put the current credential here (`rotator status` shows it; the other stores hold it), and add this place to the config's stores or consumers so the next rotation reaches it",
      certainty: "certain",
    });
  }
  if (context.admin !== undefined) return refused(...(await withAdmin(usable, context, context.admin)));
  const likely = likelyCauses(usable, context.adminRefused === true);
  return refused(likely[0]!, likely);
}

/** A non-401 answer: test credentials, an inactive account, or something that says nothing about the credential. */
function notRefusal(outcome: Exclude<ProbeOutcome, { outcome: "ok" | "refused" }>, accountSid: string): Cause {
  switch (outcome.outcome) {
    case "test-credentials":
      return {
        cause: `these are test credentials (HTTP 403, error 20008): ${maskSid(accountSid)} is a test Account SID, which reaches no live resource`,
        fix: "use the live Account SID with its Auth Token or an API key; test credentials are only for the magic test numbers",
        certainty: "certain",
        console: CONSOLE.testCredentials,
      };
    case "inactive":
      return {
        cause: `the account ${maskSid(accountSid)} is not active (HTTP 403, error 20005): suspended or closed`,
        fix: "reactivate the account (for a subaccount: from its parent); a closed account cannot be reopened, so use another",
        certainty: "certain",
        console: CONSOLE.billing,
      };
    case "other":
      return {
        cause: `Twilio answered something other than a verdict on the credential: ${outcome.message}`,
        fix:
          outcome.status === 404
            ? "check the account SID and the verify path"
            : "run doctor again; a 403 from a restricted key means its policy does not allow this call (set credential.verifyPath)",
        certainty: "likely",
      };
    case "unreachable":
      return {
        cause: `could not reach Twilio: ${outcome.message}`,
        fix: "check the network, proxy and --base-url, then run doctor again",
        certainty: "likely",
      };
  }
}

interface AccountView {
  status: string | undefined;
  ownerAccountSid: string | undefined;
}

async function fetchAccountAsAdmin(
  admin: AdminAccess,
  endpoint: Endpoint,
  sid: string,
): Promise<AccountView | undefined> {
  const { createTwilioClient } = await import("../twilio/client.js");
  try {
    const client = createTwilioClient({ ...adminClientOptions(admin, endpoint), timeoutMs: 10_000 });
    const account = await client.api.v2010.accounts(sid).fetch();
    return { status: account.status, ownerAccountSid: account.ownerAccountSid };
  } catch {
    return undefined;
  }
}

function adminClientOptions(admin: AdminAccess, endpoint: Endpoint) {
  return {
    accountSid: admin.accountSid,
    username: admin.username,
    password: admin.password,
    baseUrl: endpoint.baseUrl,
    region: endpoint.region,
    edge: endpoint.edge,
  };
}

/** Subaccounts the admin may see (at most SUBACCOUNT_SWEEP), not counting `except`. */
async function subaccountsOf(admin: AdminAccess, endpoint: Endpoint, except: string): Promise<string[]> {
  const { createTwilioClient } = await import("../twilio/client.js");
  try {
    const client = createTwilioClient({ ...adminClientOptions(admin, endpoint), timeoutMs: 10_000 });
    const accounts = await client.api.v2010.accounts.list({
      limit: SUBACCOUNT_SWEEP + 1,
      pageSize: SUBACCOUNT_SWEEP + 1,
    });
    return accounts
      .map((a) => a.sid)
      .filter((sid) => sid !== except && sid !== admin.accountSid)
      .slice(0, SUBACCOUNT_SWEEP);
  } catch {
    return [];
  }
}

async function keyKnownToAdmin(admin: AdminAccess, endpoint: Endpoint, keySid: string): Promise<boolean | undefined> {
  const outcome = await probeBasic(admin.accountSid, admin.username, admin.password, {
    ...endpoint,
    path: `/2010-04-01/Accounts/{AccountSid}/Keys/${keySid}.json`,
  });
  if (outcome.outcome === "ok") return true;
  if (outcome.outcome === "other" && outcome.status === 404) return false;
  return undefined;
}

/** The causes an authenticated admin credential can prove or rule out; [cause, alternatives]. */
async function withAdmin(
  credential: StoredCredential,
  context: OnlineContext,
  admin: AdminAccess,
): Promise<[Cause, Cause[]?]> {
  const { endpoint } = context;
  const sid = credential.accountSid;
  const account = await fetchAccountAsAdmin(admin, endpoint, sid);
  if (account?.status !== undefined && account.status !== "active") {
    return [
      {
        cause: `the account ${maskSid(sid)} is ${account.status} (its status, read with the admin credential): Twilio refuses every credential of a suspended or closed account with 20003`,
        fix:
          account.status === "closed"
            ? "a closed account cannot be reopened: move the app to another account or subaccount"
            : "reactivate the account (a subaccount: from its parent's Console or API; the main account: billing or Twilio support)",
        certainty: "certain",
        console: account.ownerAccountSid && account.ownerAccountSid !== sid ? CONSOLE.subaccounts : CONSOLE.billing,
      },
    ];
  }
  const parent = account?.ownerAccountSid && account.ownerAccountSid !== sid ? account.ownerAccountSid : undefined;
  // The account's own token logs in as the account, so it is tried as another account's; a key logs in as itself.
  const accountToken = definitionOf(credential).accountToken;
  const keySid = keySidOf(credential);
  const probeAs = (accountSid: string) =>
    probeCredential(accountToken ? { ...credential, accountSid } : credential, {
      ...endpoint,
      pathAccountSid: accountSid,
      ...(accountToken ? {} : { path: context.keyPath }),
    });
  const what = named(credential);
  if (keySid !== undefined && sid === admin.accountSid) {
    const known = await keyKnownToAdmin(admin, endpoint, keySid);
    if (known === true) {
      return [
        {
          cause: `${what} exists in account ${maskSid(sid)} and is refused: the secret is not this key's (mistyped, truncated, or another key's)`,
          fix: "put the secret that belongs to this key (Twilio shows it only once: if it is lost, create a new key, or run `rotator rotate`)",
          certainty: "certain",
          console: CONSOLE.keys,
        },
      ];
    }
  }
  if (parent !== undefined && (await probeAs(parent)).outcome === "ok") {
    return [
      {
        cause: `${what} belongs to the parent account ${maskSid(parent)}, and is used with its subaccount ${maskSid(sid)}: the parent's ${accountToken ? "token reaches only the v2010 resources of" : "Standard keys never reach"} subaccounts`,
        fix: `use credentials made in the subaccount ${maskSid(sid)} (Twilio recommends keys created at the subaccount level), or the parent's account SID`,
        certainty: "certain",
        console: CONSOLE.subaccounts,
      },
    ];
  }
  for (const sub of await subaccountsOf(admin, endpoint, sid)) {
    if ((await probeAs(sub)).outcome !== "ok") continue;
    return [
      {
        cause: `${what} belongs to subaccount ${maskSid(sub)}, and is used with the account SID ${maskSid(sid)}: subaccount credentials do not reach their parent`,
        fix: `use the subaccount's SID ${maskSid(sub)} with it, or credentials of ${maskSid(sid)}`,
        certainty: "certain",
        console: CONSOLE.subaccounts,
      },
    ];
  }
  if (accountToken && account !== undefined) {
    const reasons = tokenReasons();
    return [
      {
        cause: `Twilio knows account ${maskSid(sid)} (it is active) and refuses this token: it is not the account's current Auth Token (an old one after a promotion or a reset, a mistyped one, or the test Auth Token)`,
        fix: reasons[0]!.fix,
        certainty: "certain",
        console: CONSOLE.authTokens,
      },
      reasons,
    ];
  }
  const likely = likelyCauses(credential, false).filter(
    (c) => !/suspended or closed/.test(c.cause) || account === undefined,
  );
  if (keySid !== undefined && sid === admin.accountSid) {
    // The admin looked: the key is not in the account. Deleted, or another account's: only that account can say.
    likely[0] = {
      ...likely[0]!,
      cause: `${what} is not in account ${maskSid(sid)} (the admin credential looked): it was deleted or revoked, or it is a key of another account (staging credentials in production?)`,
    };
  }
  return [likely[0]!, likely];
}

function tokenReasons(): Cause[] {
  return [
    {
      cause: "an old Auth Token: a secondary token was promoted, or the primary was reset, since this copy was made",
      fix: "put the current primary Auth Token here; better, use an API key, which can be rotated without touching the token",
      certainty: "likely",
      console: CONSOLE.authTokens,
    },
    {
      cause: "the test Auth Token beside the live Account SID (test credentials work only with the test Account SID)",
      fix: "use the live Auth Token with the live Account SID, or the test Account SID with the test token",
      certainty: "likely",
      console: CONSOLE.testCredentials,
    },
    {
      cause: "the token of another account (staging credentials in production?), or of a subaccount or the parent",
      fix: "use the token of the account whose SID is beside it",
      certainty: "likely",
      console: CONSOLE.dashboard,
    },
  ];
}

/** Twilio's 20003 causes doctor could not rule out with the credential alone, most likely first. */
function likelyCauses(credential: StoredCredential, everythingRefused: boolean): Cause[] {
  const suspended: Cause = {
    cause: everythingRefused
      ? "the account is suspended or closed: every credential of it is refused, the config's admin credential included"
      : "the account is suspended or closed",
    fix: "check the account's status; reactivate it (a subaccount: from its parent), or move to an active account",
    certainty: "likely",
    console: CONSOLE.billing,
  };
  const proxy: Cause = {
    cause: "a proxy between this machine and Twilio strips the Authorization header",
    fix: "call Twilio without the proxy (or configure it to pass Authorization) and run doctor again",
    certainty: "likely",
  };
  const own: Cause[] = definitionOf(credential).accountToken
    ? tokenReasons()
    : [
        {
          cause: `${named(credential)} was deleted or revoked (in the Console, or by a rotation that did not update this copy)`,
          fix: "put the current key here (`rotator status` shows the one the stores hold), or create a new key; `rotator doctor --config` with the admin credential can tell more",
          certainty: "likely",
          console: CONSOLE.keys,
        },
        {
          cause: `${named(credential)} belongs to another account (staging credentials in production?), or to a subaccount or the parent of ${maskSid(credential.accountSid)}`,
          fix: "use the account SID the key was created in beside it, or a key of this account",
          certainty: "likely",
          console: CONSOLE.keys,
        },
        {
          cause: "the secret is not this key's (mistyped, or another key's)",
          fix: "put the secret Twilio showed when this key was created; if it is lost, create a new key",
          certainty: "likely",
          console: CONSOLE.keys,
        },
      ];
  return everythingRefused ? [suspended, ...own, proxy] : [...own, suspended, proxy];
}

/**
 * Whether the config's admin credential authenticates (fetching its account, which only the Auth Token and a
 * Main key may), and if not, why: a Standard key where a Main key is needed, another Region, or the likely
 * causes from its shape.
 */
export async function adminCheck(
  admin: AdminAccess,
  endpoint: Endpoint,
  likelyFromShape: string[],
): Promise<{ finding: Finding; ok: boolean; refused: boolean }> {
  const subject = "admin credential (twilio.admin)";
  const fetchAccount = (e: Endpoint) =>
    probeBasic(admin.accountSid, admin.username, admin.password, {
      ...e,
      path: "/2010-04-01/Accounts/{AccountSid}.json",
    });
  const outcome = await fetchAccount(endpoint);
  if (outcome.outcome === "ok")
    return { finding: passed("admin-authenticates", subject, describeOutcome(outcome)), ok: true, refused: false };
  if (outcome.outcome !== "refused") {
    return {
      finding: failed("admin-authenticates", subject, notRefusal(outcome, admin.accountSid)),
      ok: false,
      refused: false,
    };
  }
  const usingKey = admin.username.startsWith("SK");
  if (usingKey) {
    const messages = await probeBasic(admin.accountSid, admin.username, admin.password, {
      ...endpoint,
      path: "/2010-04-01/Accounts/{AccountSid}/Messages.json?PageSize=1",
    });
    if (messages.outcome === "ok") {
      return {
        ok: false,
        refused: false,
        finding: failed("admin-authenticates", subject, {
          cause: `twilio.admin.apiKeySid ${maskSid(admin.username)} is a Standard key: it authenticates (it may read Messages) but may not manage keys or read the account, which needs a Main key`,
          fix: "use the Auth Token, or a Main key (made in the Console: Create API key, Key type Main) as twilio.admin",
          certainty: "certain",
          console: CONSOLE.keys,
        }),
      };
    }
  }
  for (const other of KNOWN_REGIONS.filter((r) => r.region !== (endpoint.region ?? "us1"))) {
    if ((await fetchAccount({ baseUrl: endpoint.baseUrl, region: other.region, edge: other.edge })).outcome === "ok") {
      return {
        ok: false,
        refused: true,
        finding: failed("admin-authenticates", subject, {
          cause: `the admin credential belongs to Twilio Region ${other.region}; rotator called ${endpoint.region ?? "us1"}`,
          fix: `use an admin credential of ${endpoint.region ?? "us1"}, the Region the rotated credential lives in`,
          certainty: "certain",
          console: CONSOLE.keys,
        }),
      };
    }
  }
  const causes: Cause[] = likelyFromShape.map((cause) => ({
    cause,
    fix: usingKey
      ? "check twilio.admin: a Main key of this account and its secret, whole and unquoted"
      : "check twilio.admin: the account's current primary Auth Token, whole and unquoted",
    certainty: "likely" as const,
    console: usingKey ? CONSOLE.keys : CONSOLE.authTokens,
  }));
  return { ok: false, refused: true, finding: failed("admin-authenticates", subject, causes[0]!, causes) };
}
