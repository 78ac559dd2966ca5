/**
 * api v2010 Messages, list only: always empty. It exists because it is the cheap call a Standard key may
 * make, which is how a rotation checks that a new Standard key authenticates.
 */
import type { RequestContext } from "../context.js";
import { pageQuery, paginate, v2010Envelope } from "../paging.js";

const FILTERS = ["To", "From", "DateSent", "DateSent<", "DateSent>"] as const;

export function listMessages(ctx: RequestContext): unknown {
  const accountSid = ctx.params.path.AccountSid ?? "";
  const filters = FILTERS.flatMap((name) => {
    const value = ctx.params.query[name];
    return value === undefined ? [] : [[name, value] as [string, string]];
  });
  const paged = paginate<{ seq: number }>([], pageQuery(ctx.params.query));
  return v2010Envelope("messages", `/2010-04-01/Accounts/${accountSid}/Messages.json`, filters, paged, []);
}
