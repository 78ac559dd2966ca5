/**
 * A small OAuth 2.0 authority in the shape of Microsoft Entra ID, enough for @azure/identity's
 * ClientSecretCredential (through MSAL) to run its real code path with `authorityHost` pointed here and
 * instance discovery off:
 *
 *   GET  /<tenant>/v2.0/.well-known/openid-configuration   the endpoints MSAL reads (issuer on this host)
 *   POST /<tenant>/oauth2/v2.0/token                      client_credentials -> {token_type, expires_in, access_token}
 *   GET  /<tenant>/discovery/v2.0/keys                    an empty key set (jwks_uri must exist; nothing reads it)
 *
 * Errors are Entra's: `{"error","error_description":"AADSTS<n>: ...","error_codes":[n],...}`; a wrong client
 * secret is 401 invalid_client (AADSTS7000215), an unknown application 400 unauthorized_client (AADSTS700016), an
 * unknown tenant 400 invalid_tenant (AADSTS90002). Tokens are minted for whatever `<resource>/.default` the
 * scope names, so a test can get a token for another resource and see the vault refuse it.
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "../../server-kit/listener.js";
import type { ClientRegistry } from "./clients.js";
import { issuerFor, type TokenSigner } from "./tokens.js";

export interface AuthorityDeps {
  tenantId: string;
  clients: ClientRegistry;
  signer: TokenSigner;
  /** Lifetime of issued tokens in seconds. */
  tokenLifetimeSeconds(): number;
  now(): number;
  /** `https://127.0.0.1:<port>`. */
  origin(): string;
  /** Every token request, for assertions: who asked for what, and how it ended. Never a secret. */
  record(entry: { clientId: string; scope: string; status: number; error?: string }): void;
}

const OIDC_SCOPES = new Set(["openid", "profile", "offline_access"]);

interface Reply {
  status: number;
  body: unknown;
}

export function handleAuthority(deps: AuthorityDeps, req: IncomingMessage, res: ServerResponse, body: string): void {
  const { status, body: payload } = route(deps, req, body);
  sendJson(res, status, payload, { "Cache-Control": "no-store, no-cache" });
}

function route(deps: AuthorityDeps, req: IncomingMessage, body: string): Reply {
  const url = new URL(req.url ?? "/", deps.origin());
  const [tenant, ...rest] = url.pathname.replace(/^\/+/, "").split("/");
  const path = rest.join("/");
  const method = (req.method ?? "GET").toUpperCase();
  if (tenant === undefined || tenant === "") return { status: 404, body: { error: "not_found" } };
  if (tenant.toLowerCase() !== deps.tenantId.toLowerCase()) {
    return entraError(
      400,
      "invalid_tenant",
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    );
  }
  const base = `${deps.origin()}/${deps.tenantId}`;
  if (method === "GET" && path === "v2.0/.well-known/openid-configuration") {
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ["query", "fragment", "form_post"],
        subject_types_supported: ["pairwise"],
        id_token_signing_alg_values_supported: ["RS256"],
        response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
        scopes_supported: ["openid", "profile", "email", "offline_access"],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        tenant_region_scope: "EU",
        cloud_instance_name: "microsoftonline.com",
      },
    };
  }
  if (method === "GET" && path === "discovery/v2.0/keys") return { status: 200, body: { keys: [] } };
  if (method === "POST" && path === "oauth2/v2.0/token") return token(deps, new URLSearchParams(body));
  return { status: 404, body: { error: "not_found" } };
}

function token(deps: AuthorityDeps, form: URLSearchParams): Reply {
  const clientId = form.get("client_id") ?? "";
  const scope = form.get("scope") ?? "";
  const fail = (status: number, error: string, code: number, description: string): Reply => {
    deps.record({ clientId, scope, status, error });
    return entraError(status, error, code, description);
  };
  if (form.get("grant_type") !== "client_credentials") {
    return fail(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
  }
  const client = deps.clients.get(clientId);
  if (client === undefined) {
    return fail(
      400,
      "unauthorized_client",
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${deps.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
    );
  }
  if (form.get("client_secret") !== client.clientSecret) {
    return fail(
      401,
      "invalid_client",
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
    );
  }
  const resources = scope.split(" ").filter((s) => s !== "" && !OIDC_SCOPES.has(s));
  const resource = resources.length === 1 ? /^(.+)\/\.default$/.exec(resources[0] ?? "")?.[1] : undefined;
  if (resource === undefined) {
    return fail(
      400,
      "invalid_scope",
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const now = Math.floor(deps.now() / 1000);
  const lifetime = deps.tokenLifetimeSeconds();
  const accessToken = deps.signer.sign({
    aud: resource,
    iss: issuerFor(deps.tenantId),
    tid: deps.tenantId,
    appid: client.clientId,
    oid: client.objectId,
    iat: now,
    nbf: now,
    exp: now + lifetime,
    ver: "1.0",
  });
  deps.record({ clientId, scope, status: 200 });
  return {
    status: 200,
    body: { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken },
  };
}

function entraError(status: number, error: string, code: number, description: string): Reply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}
