/**
 * One account of a fleet as a config of its own: the fleet config with `twilio.accountSid` set to the
 * account, its stores and consumers expanded for it (fleet/template.ts) and validated as any config is,
 * and the parent's admin credential acting on it (the parent's Auth Token and Main keys reach a
 * subaccount's keys on api v2010). Such a unit has its own credential key, so its own journal and runs, and
 * its stores' own locks.
 */
import type { LoadedConfig } from "../config/load.js";
import { validateConfig } from "../config/load.js";
import { ConfigError, ExitCode, RotatorError } from "../errors.js";
import { maskSid } from "../util/mask.js";
import type { FleetAccount } from "./accounts.js";
import { expandTemplate, TEMPLATED_SECTIONS, usesFriendlyName } from "./template.js";

/** `AC…1234 (cust-17)`: an account in messages. */
export function describeAccount(account: FleetAccount): string {
  return account.friendlyName === undefined
    ? maskSid(account.sid)
    : `${maskSid(account.sid)} (${account.friendlyName})`;
}

export function unitConfig(fleet: LoadedConfig, account: FleetAccount): LoadedConfig {
  const raw = fleet.fleet?.raw;
  if (raw === undefined || fleet.admin === undefined) throw new Error("unitConfig: not a fleet config");
  if (account.friendlyName === undefined && usesFriendlyName(raw)) {
    throw new ConfigError(fleet.file, [
      `account ${maskSid(account.sid)}: Twilio does not list it under ${maskSid(fleet.config.twilio.accountSid)}, so {friendlyName} cannot be filled in for it`,
    ]);
  }
  const values = { accountSid: account.sid, friendlyName: account.friendlyName ?? "" };
  const unit: Record<string, unknown> = {
    ...raw,
    twilio: { ...(raw.twilio as Record<string, unknown>), accountSid: account.sid },
    // The fleet's result is notified once, not each account's.
    notify: [],
  };
  delete unit.accounts;
  for (const section of TEMPLATED_SECTIONS) {
    if (raw[section] !== undefined) unit[section] = expandTemplate(raw[section], values);
  }
  let config: LoadedConfig["config"];
  try {
    config = validateConfig(unit, fleet.file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      fleet.file,
      error.problems.map((problem) => `for account ${describeAccount(account)}: ${problem}`),
      "the account's values make the template invalid; change the template, or leave the account out",
    );
  }
  return {
    config,
    file: fleet.file,
    baseDir: fleet.baseDir,
    admin: { ...fleet.admin, accountSid: account.sid },
  };
}

/**
 * Stores that two accounts of the fleet would share: a template that names no placeholder (every account
 * writing one file), or two accounts with one FriendlyName. One store cannot hold two accounts' keys: the
 * second account would find the first one's key there, or its lock, and a rotation of either would strand
 * the other. One line per store shared (at most five), naming the store and two of its accounts.
 */
export function sharedStoreProblems(fleet: LoadedConfig, accounts: readonly FleetAccount[]): string[] {
  const raw = fleet.fleet?.raw;
  const stores = raw?.stores;
  if (raw === undefined || !Array.isArray(stores)) return [];
  const needsName = usesFriendlyName(raw);
  const firstWriter = new Map<string, { account: FleetAccount; index: number }>();
  const problems = new Map<string, string>();
  for (const account of accounts) {
    // Such an account fails on its own (unitConfig says why); its empty name would collide falsely.
    if (needsName && account.friendlyName === undefined) continue;
    const values = { accountSid: account.sid, friendlyName: account.friendlyName ?? "" };
    for (const [index, store] of stores.entries()) {
      if (store === null || typeof store !== "object") continue;
      // A store is where it is, whatever the config calls it.
      const { name, ...where } = store as Record<string, unknown>;
      const key = JSON.stringify(expandTemplate(where, values));
      const first = firstWriter.get(key);
      if (first === undefined) {
        firstWriter.set(key, { account, index });
      } else if (first.account !== account && !problems.has(key)) {
        problems.set(
          key,
          `stores[${index}]${typeof name === "string" ? ` (${name})` : ""}: accounts ${describeAccount(first.account)} and ${describeAccount(account)} would write the same store; put {accountSid} in where it is (its path, secretId or secretName) so that each account has a store of its own`,
        );
      }
    }
  }
  const lines = [...problems.values()];
  return lines.length > 5 ? [...lines.slice(0, 5), `and ${lines.length - 5} more store(s) like these`] : lines;
}

/**
 * For commands that take one account's config (doctor, watch): a fleet config's stores are templates, and
 * checking them with stand-in values would diagnose a store no account has. Bad input, saying what to use.
 */
export function refuseFleetConfig(loaded: LoadedConfig, command: string, instead: string): void {
  if (loaded.fleet === undefined) return;
  throw new RotatorError(
    `${command} takes one account's config; ${loaded.file} is a fleet config (accounts:), whose stores are templates filled in per account`,
    { exitCode: ExitCode.badInput, hint: instead },
  );
}
