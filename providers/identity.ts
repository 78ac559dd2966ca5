/**
 * Store identity: what a store *is*, whatever a config calls it. Locks, the unfinished-run check, the
 * shared-credential check and the one-store-listed-twice check compare these keys, so two spellings of one
 * store (a symlinked directory, `localhost` and `127.0.0.1`, a secret's name and its ARN) must give one key.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export interface StoreIdentity {
  /**
   * `<type>:<canonical location>`, compared byte for byte. Never a secret. Stable for the life of a run:
   * rotate journals it and resume, rollback and other configs compare against it.
   */
  key: string;
  /** The same location for people, as the config names it where that helps (`dotenv file /etc/app.env`). */
  display: string;
  /**
   * For a store on this host's file system: a file beside it where a run claims the store for as long as the
   * run is unfinished. A state directory is a run's own; a claim beside the store is seen by every run,
   * whatever `--state-dir` it was given.
   */
  claimFile?: string;
  /**
   * The provider could not learn what the store is (it did not answer, or refused the lookup), so `key` is the
   * config's spelling instead. The engine then looks for the key a journaled run recorded for this store.
   */
  unresolved?: boolean;
}

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

/**
 * An http(s) origin reduced to what the network sees: scheme, the host's addresses, port. Every loopback
 * name (`localhost`, `127.0.0.1`, `::1`, `127.0.0.2`) is one host, and a name resolving to several
 * addresses is the sorted set of them. When the name cannot be resolved (no DNS right now), the lowercased
 * name stands in: the same config then still gets the same key, which is what a run and its resume need.
 */
export async function canonicalOrigin(url: string): Promise<string> {
  const parsed = new URL(url);
  const port = parsed.port === "" ? (DEFAULT_PORTS[parsed.protocol] ?? "") : parsed.port;
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return `${parsed.protocol}//${await canonicalHost(host)}:${port}`;
}

async function canonicalHost(host: string): Promise<string> {
  if (isIP(host) !== 0) return isLoopback(host) ? "loopback" : host;
  try {
    const addresses = (await lookup(host, { all: true })).map((entry) => entry.address);
    if (addresses.length > 0 && addresses.every(isLoopback)) return "loopback";
    if (addresses.length > 0) return [...new Set(addresses)].sort().join(",");
  } catch {
    // Unresolvable now: fall back to the name (see above).
  }
  return host.replace(/\.$/, "");
}

function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === "::1" || /^::ffff:127\./i.test(address);
}

/** Memoise an async identity: providers compute it once, even when asked by several steps at once. */
export function once<T>(compute: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    promise ??= compute().catch((error: unknown) => {
      promise = undefined;
      throw error;
    });
    return promise;
  };
}
