/**
 * API keys, one store seen through two APIs: api v2010 (`/Accounts/{AccountSid}/Keys`, which creates
 * standard keys) and iam v1 (`/v1/Keys`, standard or restricted). Both list every key of the account in
 * the Region the request went to, whatever its type or the API that made it; keys are Region-specific, so
 * a key of another Region is not found. `secret` appears only in the create response.
 */
import { friendlyName, type RequestContext } from "../context.js";
import { badParameter, missingParameter, notFound } from "../errors.js";
import { rfc2822 } from "../format.js";
import { pageQuery, paginate, v1Envelope, v2010Envelope } from "../paging.js";
import { type KeyPolicy, parsePolicy } from "../policy.js";
import type { KeyRecord } from "../state.js";

function dates(key: KeyRecord) {
  return { date_created: rfc2822(key.dateCreated), date_updated: rfc2822(key.dateUpdated) };
}

// --- api v2010 -------------------------------------------------------------------------------------------

export function listKeysV2010(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const paged = paginate(ctx.state.keys(accountSid, ctx.region), pageQuery(ctx.params.query));
  const items = paged.items.map((k) => ({ sid: k.sid, friendly_name: k.friendlyName, ...dates(k) }));
  return v2010Envelope("keys", `/2010-04-01/Accounts/${accountSid}/Keys.json`, [], paged, items);
}

export function createKeyV2010(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const { key, secret } = ctx.state.createKey(accountSid, {
    type: "standard",
    friendlyName: friendlyName(ctx.params.body.FriendlyName) ?? "",
    activationDelayMs: ctx.keyActivationDelayMs(),
    region: ctx.region,
  });
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key), secret };
}

export function fetchKeyV2010(ctx: RequestContext): unknown {
  const key = keyInPathAccount(ctx);
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key) };
}

export function updateKeyV2010(ctx: RequestContext): unknown {
  const key = keyInPathAccount(ctx);
  ctx.state.updateKey(key.sid, { friendlyName: friendlyName(ctx.params.body.FriendlyName) });
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key) };
}

export function deleteKeyV2010(ctx: RequestContext): undefined {
  ctx.state.deleteKey(keyInPathAccount(ctx).sid);
  return undefined;
}

function keyInPathAccount(ctx: RequestContext): KeyRecord {
  const key = ctx.state.key(ctx.params.path.Sid ?? "");
  if (!key || key.accountSid !== ctx.params.path.AccountSid || key.region !== ctx.region) throw notFound(ctx.path);
  return key;
}

// --- iam v1 ----------------------------------------------------------------------------------------------

export function listKeysV1(ctx: RequestContext): unknown {
  const accountSid = ctx.params.query.AccountSid ?? "";
  const paged = paginate(ctx.state.keys(accountSid, ctx.region), pageQuery(ctx.params.query));
  const items = paged.items.map((k) => ({ sid: k.sid, friendly_name: k.friendlyName, ...dates(k), flags: flags(k) }));
  return v1Envelope("keys", ctx.origin, "/v1/Keys", [["AccountSid", accountSid]], paged, items);
}

export function createKeyV1(ctx: RequestContext): unknown {
  const { AccountSid, FriendlyName, KeyType, Policy } = ctx.params.body;
  let policy: KeyPolicy | undefined;
  if (KeyType === "restricted") {
    if (Policy === undefined) throw missingParameter("Policy", "post body");
    policy = parsePolicy(Policy);
  } else if (Policy !== undefined) {
    throw badParameter("Policy is only allowed with KeyType=restricted");
  }
  const { key, secret } = ctx.state.createKey(AccountSid ?? "", {
    type: KeyType === "restricted" ? "restricted" : "standard",
    friendlyName: friendlyName(FriendlyName) ?? "",
    policy,
    activationDelayMs: ctx.keyActivationDelayMs(),
    region: ctx.region,
  });
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key), secret, policy: key.policy ?? null };
}

export function fetchKeyV1(ctx: RequestContext): unknown {
  const key = keyBySid(ctx);
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key), policy: key.policy ?? null };
}

export function updateKeyV1(ctx: RequestContext): unknown {
  const key = keyBySid(ctx);
  const { FriendlyName, Policy } = ctx.params.body;
  if (Policy !== undefined && key.type !== "restricted")
    throw badParameter("Policy can only be set on a restricted key");
  ctx.state.updateKey(key.sid, {
    friendlyName: friendlyName(FriendlyName),
    policy: Policy === undefined ? undefined : parsePolicy(Policy),
  });
  return { sid: key.sid, friendly_name: key.friendlyName, ...dates(key), policy: key.policy ?? null };
}

export function deleteKeyV1(ctx: RequestContext): undefined {
  ctx.state.deleteKey(keyBySid(ctx).sid);
  return undefined;
}

/** The route's target() already turned unknown or out-of-scope keys into 404s. */
function keyBySid(ctx: RequestContext): KeyRecord {
  const key = ctx.state.key(ctx.params.path.Sid ?? "");
  if (!key) throw notFound(ctx.path);
  return key;
}

/**
 * The spec's example lists `["rest_api", "signing"]`. Restricted keys cannot sign Access Tokens (Twilio
 * documents that), so the emulator leaves `signing` off them; the exact values Twilio uses are unconfirmed.
 */
function flags(key: KeyRecord): string[] {
  return key.type === "restricted" ? ["rest_api"] : ["rest_api", "signing"];
}
