/**
 * Every operation the emulator serves, by the spec's own path and method. The router, the parameter
 * checks and the response shapes all come from the spec entry each route names.
 */
import type { Access } from "./auth.js";
import type { RequestContext, RouteDefinition } from "./context.js";
import { notFound } from "./errors.js";
import { createAccount, fetchAccount, listAccounts, updateAccount } from "./resources/accounts.js";
import { createSecondaryToken, deleteSecondaryToken, promoteSecondaryToken } from "./resources/auth-tokens.js";
import {
  createIncomingPhoneNumber,
  deleteIncomingPhoneNumber,
  fetchIncomingPhoneNumber,
  listIncomingPhoneNumbers,
  updateIncomingPhoneNumber,
} from "./resources/incoming-phone-numbers.js";
import {
  createKeyV1,
  createKeyV2010,
  deleteKeyV1,
  deleteKeyV2010,
  fetchKeyV1,
  fetchKeyV2010,
  listKeysV1,
  listKeysV2010,
  updateKeyV1,
  updateKeyV2010,
} from "./resources/keys.js";
import { createMessage, listMessages } from "./resources/messages.js";

const ADMIN: Access = { kind: "account-admin" };
/** The permission Twilio's restricted-key policy example grants for reading messages. */
export const MESSAGES_READ = "/twilio/messaging/messages/read";
export const MESSAGES_CREATE = "/twilio/messaging/messages/create";
/**
 * What a restricted key needs for IncomingPhoneNumbers. Twilio lists "Phone Numbers" among restricted-key
 * products without the permission strings in reach here, so these follow the messages pattern (unconfirmed).
 */
export const PHONE_NUMBERS_PERMISSION = {
  read: "/twilio/phone-numbers/incoming/read",
  create: "/twilio/phone-numbers/incoming/create",
  update: "/twilio/phone-numbers/incoming/update",
  delete: "/twilio/phone-numbers/incoming/delete",
} as const;

const callerAccount = (ctx: RequestContext) => ctx.principal.accountSid;
const pathParam = (name: string) => (ctx: RequestContext) => ctx.params.path[name] ?? "";

/** iam v1 addresses a key by SID alone: its account is the key's, and a key out of reach is just not found. */
function keyAccount(ctx: RequestContext): string {
  const key = ctx.state.key(ctx.params.path.Sid ?? "");
  const reachable = key && key.region === ctx.region && ctx.state.canActOn(ctx.principal.accountSid, key.accountSid);
  if (!key || !reachable) throw notFound(ctx.path);
  return key.accountSid;
}

const ACCOUNTS = "/2010-04-01/Accounts.json";
const ACCOUNT = "/2010-04-01/Accounts/{Sid}.json";
const KEYS = "/2010-04-01/Accounts/{AccountSid}/Keys.json";
const KEY = "/2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json";
const MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
const NUMBERS = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json";
const NUMBER = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers/{Sid}.json";
const numbers = (action: keyof typeof PHONE_NUMBERS_PERMISSION): Access => ({
  kind: "permission",
  permission: PHONE_NUMBERS_PERMISSION[action],
});

export const ROUTES: readonly RouteDefinition[] = [
  { spec: "api", path: ACCOUNTS, method: "GET", access: ADMIN, target: callerAccount, handle: listAccounts },
  { spec: "api", path: ACCOUNTS, method: "POST", access: ADMIN, target: callerAccount, handle: createAccount },
  { spec: "api", path: ACCOUNT, method: "GET", access: ADMIN, target: pathParam("Sid"), handle: fetchAccount },
  { spec: "api", path: ACCOUNT, method: "POST", access: ADMIN, target: pathParam("Sid"), handle: updateAccount },
  { spec: "api", path: KEYS, method: "GET", access: ADMIN, target: pathParam("AccountSid"), handle: listKeysV2010 },
  { spec: "api", path: KEYS, method: "POST", access: ADMIN, target: pathParam("AccountSid"), handle: createKeyV2010 },
  { spec: "api", path: KEY, method: "GET", access: ADMIN, target: pathParam("AccountSid"), handle: fetchKeyV2010 },
  { spec: "api", path: KEY, method: "POST", access: ADMIN, target: pathParam("AccountSid"), handle: updateKeyV2010 },
  { spec: "api", path: KEY, method: "DELETE", access: ADMIN, target: pathParam("AccountSid"), handle: deleteKeyV2010 },
  {
    spec: "api",
    path: MESSAGES,
    method: "GET",
    access: { kind: "permission", permission: MESSAGES_READ },
    target: pathParam("AccountSid"),
    handle: listMessages,
  },
  {
    spec: "api",
    path: MESSAGES,
    method: "POST",
    access: { kind: "permission", permission: MESSAGES_CREATE },
    // One of the three resources Twilio opens to test credentials (https://www.twilio.com/docs/iam/test-credentials).
    testCredentials: true,
    target: pathParam("AccountSid"),
    handle: createMessage,
  },
  {
    spec: "api",
    path: NUMBERS,
    method: "GET",
    access: numbers("read"),
    target: pathParam("AccountSid"),
    handle: listIncomingPhoneNumbers,
  },
  {
    spec: "api",
    path: NUMBERS,
    method: "POST",
    access: numbers("create"),
    target: pathParam("AccountSid"),
    handle: createIncomingPhoneNumber,
  },
  {
    spec: "api",
    path: NUMBER,
    method: "GET",
    access: numbers("read"),
    target: pathParam("AccountSid"),
    handle: fetchIncomingPhoneNumber,
  },
  {
    spec: "api",
    path: NUMBER,
    method: "POST",
    access: numbers("update"),
    target: pathParam("AccountSid"),
    handle: updateIncomingPhoneNumber,
  },
  {
    spec: "api",
    path: NUMBER,
    method: "DELETE",
    access: numbers("delete"),
    target: pathParam("AccountSid"),
    handle: deleteIncomingPhoneNumber,
  },
  {
    spec: "iam",
    path: "/v1/Keys",
    method: "GET",
    access: ADMIN,
    target: (ctx) => ctx.params.query.AccountSid ?? "",
    handle: listKeysV1,
  },
  {
    spec: "iam",
    path: "/v1/Keys",
    method: "POST",
    access: ADMIN,
    target: (ctx) => ctx.params.body.AccountSid ?? "",
    handle: createKeyV1,
  },
  { spec: "iam", path: "/v1/Keys/{Sid}", method: "GET", access: ADMIN, target: keyAccount, handle: fetchKeyV1 },
  { spec: "iam", path: "/v1/Keys/{Sid}", method: "POST", access: ADMIN, target: keyAccount, handle: updateKeyV1 },
  { spec: "iam", path: "/v1/Keys/{Sid}", method: "DELETE", access: ADMIN, target: keyAccount, handle: deleteKeyV1 },
  {
    spec: "accounts",
    path: "/v1/AuthTokens/Secondary",
    method: "POST",
    access: ADMIN,
    target: callerAccount,
    handle: createSecondaryToken,
  },
  {
    spec: "accounts",
    path: "/v1/AuthTokens/Secondary",
    method: "DELETE",
    access: ADMIN,
    target: callerAccount,
    handle: deleteSecondaryToken,
  },
  {
    spec: "accounts",
    path: "/v1/AuthTokens/Promote",
    method: "POST",
    access: ADMIN,
    target: callerAccount,
    handle: promoteSecondaryToken,
  },
];
