/**
 * accounts v1 AuthTokens: the secondary token and its promotion, for the account whose credential makes
 * the request, in the Region the request went to. The API names no account: a parent's credential acts on
 * the parent, never on a subaccount, so a subaccount's token is rotated with the subaccount's own
 * credentials. Dates here are ISO 8601, unlike api/iam.
 */
import type { RequestContext } from "../context.js";
import { badParameter, notFound } from "../errors.js";
import { iso8601 } from "../format.js";

export function createSecondaryToken(ctx: RequestContext): unknown {
  const { accountSid } = ctx.principal;
  // Twilio does not document a create while a secondary exists; see behaviour.ts.
  if (ctx.behaviour.secondaryTokenWhenExists === "reject" && ctx.state.tokens(accountSid, ctx.region)?.secondary) {
    throw badParameter("A secondary Auth Token already exists; delete or promote it first");
  }
  const token = ctx.state.createSecondaryToken(accountSid, ctx.region);
  return {
    account_sid: ctx.principal.accountSid,
    date_created: iso8601(token.dateCreated),
    date_updated: iso8601(token.dateCreated),
    secondary_auth_token: token.value,
    url: `${ctx.origin}/v1/AuthTokens/Secondary`,
  };
}

export function deleteSecondaryToken(ctx: RequestContext): undefined {
  if (!ctx.state.deleteSecondaryToken(ctx.principal.accountSid, ctx.region)) throw notFound(ctx.path);
  return undefined;
}

/** No grace period: the old primary fails with 20003 from the next request (twilio-api.md). */
export function promoteSecondaryToken(ctx: RequestContext): unknown {
  const token = ctx.state.promoteSecondaryToken(ctx.principal.accountSid, ctx.region);
  if (!token) throw notFound(ctx.path);
  return {
    account_sid: ctx.principal.accountSid,
    auth_token: token.value,
    date_created: iso8601(token.dateCreated),
    date_updated: iso8601(ctx.state.now()),
    url: `${ctx.origin}/v1/AuthTokens/Promote`,
  };
}
