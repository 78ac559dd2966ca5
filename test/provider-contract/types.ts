/** What a harness offers the contract suite, and the options that decide which cases apply. */
import type { ProviderCapabilities, StoredCredential, StoreProvider } from "../../providers/contract.js";
import type { CredentialKind } from "./credentials.js";

/** One isolated store made for one test. */
export interface ContractStore {
  /** The provider under test, configured for this store and for the kind the store was created with. */
  provider: StoreProvider;
  /** Another provider for the same store, built from the same config, as `rotator resume` would after a crash. */
  reopen(): StoreProvider;
  /**
   * What readers of the store see now, read without the provider, in a form `toEqual` compares exactly. "Undone"
   * and "unchanged" in this suite mean equal `raw()`, so it holds exactly what a rollback promises to restore:
   * - a file: its bytes;
   * - a versioned store: the value readers get, and the labels or stages the provider promises to put back (AWS:
   *   which versions hold AWSCURRENT, AWSPREVIOUS and AWSPENDING). Not the history: a rollback may add a version
   *   (Vault writes the old data back as a new one), which readers do not see. `versionCount` covers history.
   */
  raw(): Promise<unknown>;
  /**
   * Everything the store holds besides the credential's fields (other keys, other lines, comments), in a form
   * `toEqual` compares. The harness seeds some, so the suite can check that a write keeps them.
   */
  others(): Promise<unknown>;
  /** Someone else (an operator, another tool) puts this credential in the store. */
  externalWrite(credential: StoredCredential): Promise<void>;
  /**
   * Make writes fail the way an outage would (unwritable, unreachable, permission withdrawn); returns the undo.
   * Every provider must show that a failing write is a StoreError and leaves the store unchanged.
   */
  breakStore(): Promise<() => Promise<void>>;
  /**
   * The harness's own secrets (a Vault token, an AppRole secret_id, an AWS secret access key or session token),
   * scanned for like the made-up credentials. Read at every scan, so a harness may add one as it learns it (a
   * token a login returned). At least 8 characters each, so that a match means a leak.
   */
  secrets?: string[];
  /** Remove the store. Called after every test, also a failed one, once the test's providers are closed. */
  cleanup(): Promise<void>;
}

/** What a harness adds for a provider that declares `versioned`. */
export interface VersionedContractStore {
  /** How many versions the store keeps, deleted ones included (0 for no store): its history, not what readers see. */
  versionCount(): Promise<number>;
}

/** What a harness adds when its options set `interceptsWrites`. */
export interface InterceptedContractStore {
  /**
   * Run `action` once, at the moment the provider's next request that changes the store (Vault: the data write;
   * AWS: PutSecretValue) reaches it, and only then let that request go on. The provider has done all its checks
   * by then, so an external write in `action` is a true race with it; a `breakStore()` in `action` makes the very
   * request that carries the secret fail. The action's own calls must not go through the interception.
   */
  beforeStoreWrite(action: () => Promise<void>): void;
}

export interface ContractOptions {
  /**
   * The capabilities the provider declares. Cases that depend on one are declared only if it is true, and one
   * case checks that a fresh provider's `capabilities` equal these.
   */
  capabilities: ProviderCapabilities;
  /**
   * The harness's stores implement `beforeStoreWrite` (a proxy in front of the store's server). Adds the cases
   * that race a writer with the provider's own write request and break the store at that request. Left out for a
   * store with no request to intercept (a file).
   */
  interceptsWrites?: boolean;
  /** Credential types to run the suite for; default every registered one. */
  kinds?: readonly CredentialKind[];
  /** Per-test timeout in milliseconds, for stores behind a network. */
  timeout?: number;
}

/** The store a harness must make for these options. */
export type ContractStoreFor<Options extends ContractOptions> = ContractStore &
  (Options extends { capabilities: { versioned: true } } ? VersionedContractStore : unknown) &
  (Options extends { interceptsWrites: true } ? InterceptedContractStore : unknown);

export interface ContractHarness<Store extends ContractStore = ContractStore> {
  /** A fresh store at a fresh location, holding `initial` (and the harness's other content), or no credential. */
  create(initial: StoredCredential | undefined, kind: CredentialKind): Promise<Store>;
}

/** A store as the suite sees it: the optional parts are there whenever the options call for them. */
export type SuiteStore = ContractStore & Partial<VersionedContractStore & InterceptedContractStore>;
