/** api v2010 Accounts: the main account and its subaccounts. */
import { friendlyName, type RequestContext } from "../context.js";
import { rfc2822 } from "../format.js";
import { pageQuery, paginate, v2010Envelope } from "../paging.js";
import { isRecord, type TwilioSpecs } from "../spec.js";
import type { AccountRecord, AccountStatus } from "../state.js";

const LIST_PATH = "/2010-04-01/Accounts.json";

export function listAccounts(ctx: RequestContext): unknown {
  const { FriendlyName, Status } = ctx.params.query;
  const matching = ctx.state
    .accountAndSubaccounts(ctx.principal.accountSid)
    .filter(
      (a) =>
        (FriendlyName === undefined || a.friendlyName === FriendlyName) &&
        (Status === undefined || a.status === Status),
    );
  const filters: Array<[string, string]> = [];
  if (FriendlyName !== undefined) filters.push(["FriendlyName", FriendlyName]);
  if (Status !== undefined) filters.push(["Status", Status]);
  const paged = paginate(matching, pageQuery(ctx.params.query));
  return v2010Envelope(
    "accounts",
    LIST_PATH,
    filters,
    paged,
    paged.items.map((a) => accountJson(ctx, a)),
  );
}

export function createAccount(ctx: RequestContext): unknown {
  const name = friendlyName(ctx.params.body.FriendlyName);
  return accountJson(ctx, ctx.state.createSubaccount(ctx.principal.accountSid, name));
}

export function fetchAccount(ctx: RequestContext): unknown {
  return accountJson(ctx, requireAccount(ctx));
}

export function updateAccount(ctx: RequestContext): unknown {
  const account = requireAccount(ctx);
  const { FriendlyName, Status } = ctx.params.body;
  // Status arrives checked against the spec's account_enum_status.
  const status = Status as AccountStatus | undefined;
  return accountJson(ctx, ctx.state.updateAccount(account.sid, { friendlyName: friendlyName(FriendlyName), status }));
}

function requireAccount(ctx: RequestContext): AccountRecord {
  const sid = ctx.params.path.Sid ?? "";
  const account = ctx.state.account(sid);
  // The route's scope check already refused unknown accounts; this guards the handler on its own.
  if (!account) throw new Error(`twilio emulator: account ${sid} vanished`);
  return account;
}

/** `auth_token` is the account's primary token in the Region the request went to (each has its own). */
function accountJson(ctx: RequestContext, a: AccountRecord) {
  return {
    auth_token: ctx.state.tokens(a.sid, ctx.region)?.primary.value,
    date_created: rfc2822(a.dateCreated),
    date_updated: rfc2822(a.dateUpdated),
    friendly_name: a.friendlyName,
    owner_account_sid: a.ownerAccountSid,
    sid: a.sid,
    status: a.status,
    subresource_uris: subresourceUris(ctx.specs, a.sid),
    type: "Full",
    uri: `/2010-04-01/Accounts/${a.sid}.json`,
  };
}

const templates = new WeakMap<TwilioSpecs, Array<[string, string]>>();

/**
 * The spec types `subresource_uris` only as a map of URIs; which names Twilio lists comes from the spec's
 * own example of a fetched Account, with the example's SID swapped for the real one.
 */
function subresourceUris(specs: TwilioSpecs, sid: string): Record<string, string> {
  let entries = templates.get(specs);
  if (!entries) {
    const example = specs.operation("api", "/2010-04-01/Accounts/{Sid}.json", "GET").example;
    const uris = isRecord(example) && isRecord(example.subresource_uris) ? example.subresource_uris : {};
    const exampleSid = isRecord(example) && typeof example.sid === "string" ? example.sid : "";
    entries = Object.entries(uris).flatMap(([name, uri]) =>
      typeof uri === "string" && exampleSid !== ""
        ? [[name, uri.replace(exampleSid, "{sid}")] as [string, string]]
        : [],
    );
    templates.set(specs, entries);
  }
  return Object.fromEntries(entries.map(([name, uri]) => [name, uri.replace("{sid}", sid)]));
}
