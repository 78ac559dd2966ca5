/**
 * Which accounts a fleet run rotates: `accounts.list`, or the subaccounts Twilio lists for the parent with
 * `accounts.discover`'s filters, at each run (a customer added since the last run is rotated too). Twilio's
 * FriendlyName filter is an exact match, so a pattern (`cust-*`) is matched here over the listed pages.
 * The listing also gives each account's friendly name, which templates and the summary use.
 */
import type { LoadedConfig } from "../config/load.js";
import { ExitCode, errorMessage, RotatorError } from "../errors.js";
import { createTwilioClient, type RequestThrottle } from "../twilio/client.js";
import { DEFAULT_RETRY_POLICY, withTwilioRetry } from "../twilio/retry.js";
import { maskSid } from "../util/mask.js";

export interface FleetAccount {
  sid: string;
  /** Twilio's FriendlyName; undefined for a listed account Twilio does not list under the parent. */
  friendlyName: string | undefined;
}

/** `cust-*` as a regular expression: `*` any characters, `?` one; anchored, case-sensitive as Twilio's filter. */
export function globPattern(glob: string): RegExp {
  const source = glob
    .split("")
    .map((char) => (char === "*" ? ".*" : char === "?" ? "." : char.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`);
}

const isPattern = (text: string) => /[*?]/.test(text);

function parentClient(loaded: LoadedConfig, throttle: RequestThrottle) {
  const admin = loaded.admin;
  if (admin === undefined) throw new Error("fleetAccounts: a fleet's admin credential comes from the environment");
  return createTwilioClient({
    accountSid: loaded.config.twilio.accountSid,
    username: admin.username,
    password: admin.password,
    baseUrl: loaded.config.twilio.baseUrl,
    throttle,
  });
}

/**
 * Accounts the listing did not give (an unfinished run's account that the filters no longer match, say it
 * was renamed): each fetched through the parent for its FriendlyName; one Twilio no longer shows keeps none.
 */
export async function fetchAccounts(
  loaded: LoadedConfig,
  throttle: RequestThrottle,
  sids: readonly string[],
): Promise<FleetAccount[]> {
  if (sids.length === 0) return [];
  const client = parentClient(loaded, throttle);
  return Promise.all(
    sids.map(async (sid) => {
      try {
        const account = await withTwilioRetry(() => client.api.v2010.accounts(sid).fetch(), DEFAULT_RETRY_POLICY);
        return { sid, friendlyName: account.friendlyName };
      } catch {
        return { sid, friendlyName: undefined };
      }
    }),
  );
}

export async function fleetAccounts(loaded: LoadedConfig, throttle: RequestThrottle): Promise<FleetAccount[]> {
  const accounts = loaded.config.accounts;
  if (accounts === undefined) throw new Error("fleetAccounts: not a fleet config");
  const parent = loaded.config.twilio.accountSid;
  const client = parentClient(loaded, throttle);
  const discover = accounts.discover;
  const exact = discover?.friendlyName !== undefined && !isPattern(discover.friendlyName);
  let listed: Array<{ sid: string; friendlyName: string }>;
  try {
    listed = await withTwilioRetry(
      () =>
        client.api.v2010.accounts.list({
          pageSize: 1000,
          ...(discover === undefined ? {} : { status: discover.status }),
          ...(exact && discover?.friendlyName !== undefined ? { friendlyName: discover.friendlyName } : {}),
        }),
      DEFAULT_RETRY_POLICY,
    );
  } catch (error) {
    throw new RotatorError(`could not list the subaccounts of ${maskSid(parent)}: ${errorMessage(error)}`, {
      exitCode: ExitCode.badInput,
      hint: "the fleet's admin credential must be the parent account's Auth Token or a Main key of it (twilio.admin)",
    });
  }
  if (accounts.list !== undefined) {
    const names = new Map(listed.map((account) => [account.sid, account.friendlyName]));
    return accounts.list.map((sid) => ({ sid, friendlyName: names.get(sid) }));
  }
  const pattern = discover?.friendlyName !== undefined ? globPattern(discover.friendlyName) : undefined;
  const found = listed
    .filter((account) => account.sid !== parent && (pattern === undefined || pattern.test(account.friendlyName)))
    .map((account) => ({ sid: account.sid, friendlyName: account.friendlyName }));
  if (found.length === 0) {
    const filters = [
      discover?.friendlyName === undefined ? undefined : `friendlyName "${discover.friendlyName}"`,
      `status ${discover?.status ?? "active"}`,
    ].filter((part) => part !== undefined);
    throw new RotatorError(`no subaccount of ${maskSid(parent)} matches accounts.discover (${filters.join(", ")})`, {
      exitCode: ExitCode.badInput,
      hint: "check the filters against the Console's list of subaccounts; a fleet with no account is surely a mistake",
    });
  }
  return found;
}
