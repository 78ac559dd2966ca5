/**
 * The project's Azure Key Vault test server: the secrets data plane of one vault and a small Entra-ID-shaped
 * authority beside it, both HTTPS on 127.0.0.1 with a certificate made at start (certificates.ts). Held to
 * Azure's published REST spec (spec.ts) and driven, in the tests, only through @azure/keyvault-secrets and
 * @azure/identity. `rotator emulator azure-key-vault` runs it (cli.ts); the engine and providers never import it.
 *
 *     const server = await startKeyVaultServer();
 *     const credential = new ClientSecretCredential(server.tenantId, server.client.clientId, server.client.clientSecret, {
 *       authorityHost: server.authorityHost, disableInstanceDiscovery: true, tlsOptions: { ca: server.caPem } });
 *     const client = new SecretClient(server.vaultUrl, credential, {
 *       disableChallengeResourceVerification: true, tlsOptions: { ca: server.caPem } });
 *     ...
 *     await server.close();
 *
 * Order of checks per vault request: injected faults (only on requests with a token, see faults.ts), routing
 * (404/405), api-version (400), the bearer token (401 with the challenge), hooks a test registered, the secret
 * name (400), the caller's permission (403), the body against the spec (400), the operation itself.
 *
 * Control (for a server in another process) is over HTTPS under /__keyvault/ on the vault's port: see admin.ts.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { closeServer, createListener, listen, readBody, sendJson as writeJson } from "../server-kit/listener.js";
import { handleAdmin } from "./admin.js";
import { handleAuthority } from "./auth/authority.js";
import { type ClientInput, type ClientRecord, ClientRegistry } from "./auth/clients.js";
import { issuerFor, KEY_VAULT_RESOURCE, type TokenClaims, TokenSigner } from "./auth/tokens.js";
import { makeServerCertificate } from "./certificates.js";
import {
  badParameter,
  KeyVaultError,
  methodNotAllowed,
  notFound,
  serverError,
  throttled,
  unauthorized,
} from "./errors.js";
import { Faults } from "./faults.js";
import { operations } from "./operations.js";
import { KeyVaultSpec, type Permission, type SpecOperation } from "./spec.js";
import { VaultState } from "./state.js";

const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 1024 * 1024;
/** Reported in x-ms-keyvault-service-version, as Key Vault reports its build. */
const SERVICE_VERSION = "1.9.0.0-rotator-test";

export interface KeyVaultServerOptions {
  /** 0 (default) for a free port. */
  port?: number;
  authorityPort?: number;
  /** Where the TLS certificate lives; one made earlier there is reused (same CA across restarts). */
  certDir?: string;
  /** Default: a new GUID. */
  tenantId?: string;
  /** The application every test may use, with every permission; made up when not given. */
  client?: ClientInput;
  /**
   * The key tokens are signed with; default a new one. A server restarted with the same key keeps accepting the
   * tokens it issued before, as Key Vault does across an outage of its own.
   */
  tokenKey?: Buffer;
  /** Lifetime of the tokens the authority issues; default 3600 s, as Entra's. */
  tokenLifetimeSeconds?: number;
  /** The spec file; default the project's vendored copy. */
  specFile?: string;
  /** The clock (epoch milliseconds); tests of expiry pass their own. */
  now?: () => number;
}

export interface RequestRecord {
  method: string;
  path: string;
  operationId: string | undefined;
  status: number;
  /** The caller's application id, once its token was accepted. */
  clientId: string | undefined;
}

export interface TokenRequestRecord {
  clientId: string;
  scope: string;
  status: number;
  error?: string;
}

export interface RequestMatch {
  method?: string;
  /** Matched against the path without the query; a string matches exactly (case-insensitive, as names are). */
  path?: string | RegExp;
}

export interface KeyVaultServer {
  /** `https://127.0.0.1:<port>`, what a SecretClient is given. */
  readonly vaultUrl: string;
  /** `https://127.0.0.1:<port>`, the `authorityHost` for @azure/identity. */
  readonly authorityHost: string;
  readonly tenantId: string;
  /** The CA that signed the server's certificate: trust it, never turn verification off. */
  readonly caPem: string;
  readonly caFile: string;
  /** An application with every permission. */
  readonly client: { readonly clientId: string; readonly clientSecret: string };
  readonly state: VaultState;
  readonly faults: Faults;
  readonly clients: ClientRegistry;
  readonly spec: KeyVaultSpec;
  /** Every vault request, oldest first (method, path, operation, status: never a body or a header). */
  readonly requests: RequestRecord[];
  readonly tokenRequests: TokenRequestRecord[];
  /** Mint a token directly (a test of expiry, or of a token meant for another resource or tenant). */
  mintToken(claims: Partial<TokenClaims> & { appid: string }): string;
  /**
   * Run `action` once, when the next authenticated request matching `match` arrives, and only then let that
   * request go on: the moment a client's write reaches the vault, for a true race with it.
   */
  beforeNext(match: RequestMatch, action: () => Promise<void>): void;
  /** Forget secrets, faults, hooks and records (the applications and their permissions stay). */
  reset(): void;
  close(): Promise<void>;
}

interface Hook {
  match: RequestMatch;
  action: () => Promise<void>;
}

interface Caller {
  client: ClientRecord;
}

export async function startKeyVaultServer(options: KeyVaultServerOptions = {}): Promise<KeyVaultServer> {
  const spec = new KeyVaultSpec(options.specFile);
  const certificate = await makeServerCertificate(options.certDir);
  const now = options.now ?? (() => Date.now());
  const tenantId = (options.tenantId ?? randomUUID()).toLowerCase();
  const state = new VaultState(now);
  const faults = new Faults();
  const clients = new ClientRegistry();
  const client = clients.add(options.client);
  const signer = new TokenSigner(options.tokenKey);
  const requests: RequestRecord[] = [];
  const tokenRequests: TokenRequestRecord[] = [];
  const hooks: Hook[] = [];
  const closing = new AbortController();
  let vaultUrl = "";
  let authorityHost = "";

  const tls = { key: certificate.keyPem, cert: certificate.certPem };
  const authority = createListener({
    tls,
    handle: async (req, res) =>
      handleAuthority(
        {
          tenantId,
          clients,
          signer,
          tokenLifetimeSeconds: () => options.tokenLifetimeSeconds ?? 3600,
          now,
          origin: () => authorityHost,
          record: (entry) => tokenRequests.push(entry),
        },
        req,
        res,
        await readBody(req, MAX_BODY_BYTES, bodyTooLarge),
      ),
    onUncaught: (res) => res.destroy(),
  });

  const server: KeyVaultServer = {
    get vaultUrl() {
      return vaultUrl;
    },
    get authorityHost() {
      return authorityHost;
    },
    tenantId,
    caPem: certificate.caPem,
    caFile: certificate.caFile,
    client: { clientId: client.clientId, clientSecret: client.clientSecret },
    state,
    faults,
    clients,
    spec,
    requests,
    tokenRequests,
    mintToken(claims) {
      const issuedAt = Math.floor(now() / 1000);
      const known = clients.get(claims.appid);
      return signer.sign({
        aud: KEY_VAULT_RESOURCE,
        iss: issuerFor(claims.tid ?? tenantId),
        tid: tenantId,
        oid: known?.objectId ?? randomUUID(),
        iat: issuedAt,
        nbf: issuedAt,
        exp: issuedAt + 3600,
        ver: "1.0",
        ...claims,
      });
    },
    beforeNext(match, action) {
      hooks.push({ match, action });
    },
    reset() {
      state.reset();
      faults.clear();
      hooks.length = 0;
      requests.length = 0;
      tokenRequests.length = 0;
    },
    async close() {
      closing.abort();
      // Closing never fails: an error closing one listener must not leave the other open.
      await Promise.all([vault, authority].map((s) => closeServer(s).catch(() => undefined)));
    },
  };

  const vault = createListener({ tls, handle: handleVault, onUncaught: (res, error) => send(res, internal(error)) });

  async function handleVault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", vaultUrl);
    const path = url.pathname;
    const method = (req.method ?? "GET").toUpperCase();
    let body: string;
    try {
      body = await readBody(req, MAX_BODY_BYTES, bodyTooLarge);
    } catch (error) {
      send(res, error instanceof KeyVaultError ? error : internal(error));
      return;
    }
    if (path === "/__keyvault" || path.startsWith("/__keyvault/")) {
      handleAdmin({ server, state, faults, clients }, method, path, body, res);
      return;
    }
    const record: RequestRecord = { method, path, operationId: undefined, status: 0, clientId: undefined };
    requests.push(record);
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      if (payload === undefined) res.writeHead(status, { ...serviceHeaders(), ...headers }).end();
      else sendJson(res, status, payload, headers);
    };
    try {
      const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
      if (bearer !== undefined) {
        const effects = faults.early(method, path);
        if (effects.latencyMs > 0) await sleep(effects.latencyMs, undefined, { signal: closing.signal });
        if (effects.answer?.kind === "reset") {
          record.status = -1;
          res.destroy();
          return;
        }
        if (effects.answer?.kind === "rate-limit") throw throttled(effects.answer.retryAfterSeconds);
        if (effects.answer?.kind === "server-error") throw serverError(effects.answer.status);
      }
      const route = spec.match(method, path);
      if (route === undefined) throw notFound(path);
      if ("allowed" in route) throw methodNotAllowed(method, path, route.allowed);
      const { operation, params } = route;
      record.operationId = operation.operationId;
      const apiVersion = url.searchParams.get("api-version");
      if (apiVersion !== spec.apiVersion) {
        throw badParameter(
          apiVersion === null
            ? `The api-version query parameter is required; this vault serves ${spec.apiVersion}.`
            : `The specified api-version ${apiVersion} is not supported by this vault; it serves ${spec.apiVersion}.`,
        );
      }
      const caller = authenticate(bearer);
      record.clientId = caller.client.clientId;
      await runHooks(method, path);
      const name = params["secret-name"];
      if (name !== undefined && !spec.secretName.test(name)) {
        throw badParameter(
          `The secret name '${name}' is invalid: use 1 to 127 letters, digits and '-' (${spec.secretName.source}).`,
        );
      }
      authorize(caller, operation, method, path);
      let parsed: Record<string, unknown> | undefined;
      if (operation.bodyDefinition !== undefined) parsed = parseBody(operation, body);
      const result = operations[operation.operationId]?.({
        state,
        vaultUrl,
        apiVersion: spec.apiVersion,
        params,
        query: url.searchParams,
        body: parsed,
        maxResults: operation.maxResults,
      });
      if (result === undefined) throw new Error(`no handler for ${operation.operationId}`);
      if (faults.dropsResponse(method, path)) {
        record.status = -1;
        res.destroy();
        return;
      }
      answer(result.status, withFaultyValue(method, path, result.body));
    } catch (error) {
      if (closing.signal.aborted) {
        res.destroy();
        return;
      }
      const failure = error instanceof KeyVaultError ? error : internal(error);
      answer(failure.status, failure.body(), { ...failure.headers });
    }
  }

  /** The answer's body, its secret value corrupted if a corrupt-value fault says so (the state is untouched). */
  function withFaultyValue(method: string, path: string, body: unknown): unknown {
    if (typeof body !== "object" || body === null || !("value" in body) || typeof body.value !== "string") return body;
    const value = faults.corruptValue(method, path, body.value);
    return value === body.value ? body : { ...body, value };
  }

  function authenticate(bearer: string | undefined): Caller {
    const challengeFor = (message: string) => unauthorized(message, `${authorityHost}/${tenantId}`, KEY_VAULT_RESOURCE);
    if (bearer === undefined) throw challengeFor("AKV10000: Request is missing a Bearer or PoP token.");
    const claims = signer.verify(bearer);
    if (claims === undefined) throw challengeFor("AKV10046: Unable to resolve the key used for signature validation.");
    const audience = claims.aud.replace(/\/+$/, "");
    if (audience !== KEY_VAULT_RESOURCE) {
      throw challengeFor(`AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}, found: ${claims.aud}.`);
    }
    if (claims.tid !== tenantId || claims.iss !== issuerFor(tenantId)) {
      throw challengeFor(`AKV10032: Invalid issuer. Expected one of ${issuerFor(tenantId)}, found: ${claims.iss}.`);
    }
    const seconds = Math.floor(now() / 1000);
    if (claims.exp <= seconds)
      throw challengeFor(`The access token expired at ${new Date(claims.exp * 1000).toISOString()}.`);
    if (claims.nbf > seconds) throw challengeFor("The access token is not valid yet (nbf).");
    const client = clients.get(claims.appid);
    if (client === undefined) throw challengeFor(`The application ${claims.appid} no longer exists in the tenant.`);
    return { client };
  }

  function authorize(caller: Caller, operation: SpecOperation, method: string, path: string): void {
    const allowed = caller.client.permissions.has(operation.permission) && !faults.refusesWrite(method, path);
    if (allowed) return;
    throw new KeyVaultError(
      403,
      "Forbidden",
      [
        "Caller is not authorized to perform action on resource.",
        "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
        `Caller: appid=${caller.client.clientId};oid=${caller.client.objectId};iss=${issuerFor(tenantId)}`,
        `Action: '${dataAction(operation.permission)}'`,
        `Resource: '${vaultUrl}${path}'`,
        "Assignment: (not found)",
        "DenyAssignmentId: null",
        "DecisionReason: null",
        `Vault: ${HOST};location=westeurope`,
        "",
      ].join("\r\n"),
      "ForbiddenByRbac",
    );
  }

  async function runHooks(method: string, path: string): Promise<void> {
    const index = hooks.findIndex(({ match }) => matches(match, method, path));
    if (index < 0) return;
    const [hook] = hooks.splice(index, 1);
    await hook?.action();
  }

  function parseBody(operation: SpecOperation, body: string): Record<string, unknown> {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      throw badParameter(`The request body of ${operation.operationId} is not valid JSON.`);
    }
    const problems = spec.bodyProblems(operation.bodyDefinition ?? "", value);
    if (problems !== undefined)
      throw badParameter(`The request body does not match ${operation.bodyDefinition}: ${problems}.`);
    return value as Record<string, unknown>;
  }

  const [vaultPort, authorityPort] = await Promise.all([
    listen(vault, options.port ?? 0, HOST),
    listen(authority, options.authorityPort ?? 0, HOST),
  ]);
  vaultUrl = `https://${HOST}:${vaultPort}`;
  authorityHost = `https://${HOST}:${authorityPort}`;
  return server;
}

/** The RBAC data action a permission stands for, as Key Vault names it in a denial. */
function dataAction(permission: Permission): string {
  const actions: Record<Permission, string> = {
    get: "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    list: "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    set: "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    delete: "Microsoft.KeyVault/vaults/secrets/delete",
    recover: "Microsoft.KeyVault/vaults/secrets/recover/action",
    backup: "Microsoft.KeyVault/vaults/secrets/backup/action",
    restore: "Microsoft.KeyVault/vaults/secrets/restore/action",
    purge: "Microsoft.KeyVault/vaults/deletedSecrets/purge/action",
  };
  return actions[permission];
}

export function matches(match: RequestMatch, method: string, path: string): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
  if (match.path === undefined) return true;
  return typeof match.path === "string" ? match.path.toLowerCase() === path.toLowerCase() : match.path.test(path);
}

function serviceHeaders(): Record<string, string> {
  return {
    "x-ms-request-id": randomUUID(),
    "x-ms-keyvault-service-version": SERVICE_VERSION,
    "x-ms-keyvault-region": "westeurope",
    "x-ms-keyvault-network-info": `conn_type=Ipv4;addr=${HOST};act_addr_fam=InterNetwork;`,
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  writeJson(res, status, body, { ...serviceHeaders(), ...headers, "Cache-Control": "no-cache" });
}

function send(res: ServerResponse, error: KeyVaultError): void {
  sendJson(res, error.status, error.body(), { ...error.headers });
}

/** A server bug: answer as Key Vault's 500, and say what broke on stderr (messages never hold a secret). */
function internal(error: unknown): KeyVaultError {
  process.stderr.write(
    `keyvault test server: internal error: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  return serverError(500);
}

function bodyTooLarge(): KeyVaultError {
  return badParameter(`The request body is larger than ${MAX_BODY_BYTES} bytes.`);
}
