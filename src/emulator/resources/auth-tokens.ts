/**
 * accounts v1 AuthTokens: the secondary token and its promotion, for the account whose credential makes
 * the request. Dates here are ISO 8601, unlike api/iam.
 */
import type { RequestContext } from "../context.js";
import { notFound } from "../errors.js";
import { iso8601 } from "../format.js";

export function createSecondaryToken(ctx: RequestContext): unknown {
  const token = ctx.state.createSecondaryToken(ctx.principal.accountSid);
  return {
    account_sid: ctx.principal.accountSid,
    date_created: iso8601(token.dateCreated),
    date_updated: iso8601(token.dateCreated),
    secondary_auth_token: token.value,
    url: `${ctx.origin}/v1/AuthTokens/Secondary`,
  };
}

export function deleteSecondaryToken(ctx: RequestContext): undefined {
  if (!ctx.state.deleteSecondaryToken(ctx.principal.accountSid)) throw notFound(ctx.path);
  return undefined;
}

export function promoteSecondaryToken(ctx: RequestContext): unknown {
  const token = ctx.state.promoteSecondaryToken(ctx.principal.accountSid);
  if (!token) throw notFound(ctx.path);
  return {
    account_sid: ctx.principal.accountSid,
    auth_token: token.value,
    date_created: iso8601(token.dateCreated),
    date_updated: iso8601(ctx.state.now()),
    url: `${ctx.origin}/v1/AuthTokens/Promote`,
  };
}
