/**
 * The spec's twelve secrets operations, by operationId, on the vault's state. Each gets the matched route's
 * parameters and the parsed body (already checked against the spec's schema) and returns the status and body
 * the spec declares for it: `SecretBundle`, `SecretListResult` (paged with `nextLink`), `DeletedSecretBundle`,
 * `DeletedSecretListResult`, `BackupSecretResult`, or 204 with no body for a purge.
 *
 * Bundles carry the value only where the spec's operation returns the secret itself (get and set); a bundle
 * about a deleted, recovered or restored secret describes it without its value.
 */
import { badParameter } from "./errors.js";
import { RECOVERABLE_DAYS, type SecretRecord, type SecretVersion, type VaultState } from "./state.js";

export interface OperationContext {
  state: VaultState;
  vaultUrl: string;
  apiVersion: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown> | undefined;
  maxResults: { minimum: number; maximum: number } | undefined;
}

export interface OperationResult {
  status: number;
  body: unknown;
}

type Handler = (ctx: OperationContext) => OperationResult;

const RECOVERY_LEVEL = "Recoverable+Purgeable";

export const operations: Readonly<Record<string, Handler>> = {
  SetSecret(ctx) {
    const body = ctx.body ?? {};
    const attributes = (body.attributes ?? {}) as Record<string, unknown>;
    const { secret, version } = ctx.state.set(name(ctx), {
      value: String(body.value),
      contentType: body.contentType as string | undefined,
      tags: body.tags as Record<string, string> | undefined,
      enabled: attributes.enabled as boolean | undefined,
      nbf: attributes.nbf as number | undefined,
      exp: attributes.exp as number | undefined,
    });
    return ok(bundle(ctx, secret, version, { withValue: true }));
  },

  GetSecret(ctx) {
    const { secret, version } = ctx.state.get(name(ctx), ctx.params["secret-version"]);
    return ok(bundle(ctx, secret, version, { withValue: true }));
  },

  UpdateSecret(ctx) {
    const versionId = ctx.params["secret-version"] ?? "";
    if (versionId === "") throw badParameter("UpdateSecret needs a secret version in the path.");
    const body = ctx.body ?? {};
    const attributes = (body.attributes ?? {}) as Record<string, unknown>;
    const { secret, version } = ctx.state.update(name(ctx), versionId, {
      contentType: body.contentType as string | undefined,
      tags: body.tags as Record<string, string> | undefined,
      enabled: attributes.enabled as boolean | undefined,
      nbf: attributes.nbf as number | undefined,
      exp: attributes.exp as number | undefined,
    });
    return ok(bundle(ctx, secret, version, { withValue: false }));
  },

  GetSecretVersions(ctx) {
    const { secret, versions } = ctx.state.versions(name(ctx));
    return ok(
      page(ctx, `/secrets/${encodeURIComponent(secret.name)}/versions`, versions, (v) => item(ctx, secret, v, true)),
    );
  },

  GetSecrets(ctx) {
    const secrets = ctx.state.list();
    return ok(page(ctx, "/secrets", secrets, (s) => item(ctx, s, latest(s), false)));
  },

  DeleteSecret(ctx) {
    return ok(deletedBundle(ctx, ctx.state.delete(name(ctx))));
  },

  GetDeletedSecret(ctx) {
    return ok(deletedBundle(ctx, ctx.state.getDeleted(name(ctx))));
  },

  GetDeletedSecrets(ctx) {
    const secrets = ctx.state.listDeleted();
    return ok(
      page(ctx, "/deletedsecrets", secrets, (s) => ({
        ...item(ctx, s, latest(s), false),
        ...deletion(ctx, s),
      })),
    );
  },

  RecoverDeletedSecret(ctx) {
    const secret = ctx.state.recover(name(ctx));
    return ok(bundle(ctx, secret, latest(secret), { withValue: false }));
  },

  PurgeDeletedSecret(ctx) {
    ctx.state.purge(name(ctx));
    return { status: 204, body: undefined };
  },

  BackupSecret(ctx) {
    return ok({ value: ctx.state.backup(name(ctx)) });
  },

  RestoreSecret(ctx) {
    const secret = ctx.state.restore(String(ctx.body?.value ?? ""));
    return ok(bundle(ctx, secret, latest(secret), { withValue: false }));
  },
};

function ok(body: unknown): OperationResult {
  return { status: 200, body };
}

function name(ctx: OperationContext): string {
  return ctx.params["secret-name"] ?? "";
}

function latest(secret: SecretRecord): SecretVersion {
  const version = secret.versions.at(-1);
  if (version === undefined) throw new Error(`secret ${secret.name} has no version`);
  return version;
}

function attributes(version: SecretVersion) {
  return {
    enabled: version.enabled,
    ...(version.nbf === undefined ? {} : { nbf: version.nbf }),
    ...(version.exp === undefined ? {} : { exp: version.exp }),
    created: version.created,
    updated: version.updated,
    recoverableDays: RECOVERABLE_DAYS,
    recoveryLevel: RECOVERY_LEVEL,
  };
}

function secretId(ctx: OperationContext, secret: SecretRecord, version?: SecretVersion): string {
  const base = `${ctx.vaultUrl}/secrets/${secret.name}`;
  return version === undefined ? base : `${base}/${version.version}`;
}

function bundle(ctx: OperationContext, secret: SecretRecord, version: SecretVersion, options: { withValue: boolean }) {
  return {
    ...(options.withValue ? { value: version.value } : {}),
    id: secretId(ctx, secret, version),
    ...(version.contentType === undefined ? {} : { contentType: version.contentType }),
    attributes: attributes(version),
    ...(version.tags === undefined ? {} : { tags: version.tags }),
    ...(secret.kid === undefined ? {} : { kid: secret.kid }),
    ...(secret.managed ? { managed: true } : {}),
  };
}

function item(ctx: OperationContext, secret: SecretRecord, version: SecretVersion, withVersion: boolean) {
  return {
    id: secretId(ctx, secret, withVersion ? version : undefined),
    attributes: attributes(version),
    ...(version.tags === undefined ? {} : { tags: version.tags }),
    ...(version.contentType === undefined ? {} : { contentType: version.contentType }),
    ...(secret.managed ? { managed: true } : {}),
  };
}

function deletion(ctx: OperationContext, secret: SecretRecord) {
  if (secret.deleted === undefined) throw new Error(`secret ${secret.name} is not deleted`);
  return {
    recoveryId: `${ctx.vaultUrl}/deletedsecrets/${secret.name}`,
    scheduledPurgeDate: secret.deleted.scheduledPurgeDate,
    deletedDate: secret.deleted.deletedDate,
  };
}

function deletedBundle(ctx: OperationContext, secret: SecretRecord) {
  return { ...bundle(ctx, secret, latest(secret), { withValue: false }), ...deletion(ctx, secret) };
}

/**
 * One page of a list: `maxresults` (the spec's bounds, 25 by default) items from the `$skiptoken` position, and a
 * `nextLink` carrying the api-version, the position and the page size when more follow, as Key Vault's do.
 */
function page<T>(ctx: OperationContext, path: string, all: readonly T[], map: (item: T) => unknown) {
  const bounds = ctx.maxResults ?? { minimum: 1, maximum: 25 };
  const raw = ctx.query.get("maxresults");
  const size = raw === null ? bounds.maximum : Number(raw);
  if (!Number.isInteger(size) || size < bounds.minimum || size > bounds.maximum) {
    throw badParameter(
      `Invalid value for maxresults: ${raw}; it must be an integer from ${bounds.minimum} to ${bounds.maximum}.`,
    );
  }
  const token = ctx.query.get("$skiptoken");
  const offset = token === null ? 0 : skipOffset(token);
  const items = all.slice(offset, offset + size).map(map);
  const next = offset + size < all.length ? offset + size : undefined;
  return {
    value: items,
    ...(next === undefined
      ? {}
      : {
          nextLink:
            `${ctx.vaultUrl}${path}?api-version=${ctx.apiVersion}&$skiptoken=` +
            `${Buffer.from(JSON.stringify({ offset: next }), "utf8").toString("base64url")}&maxresults=${size}`,
        }),
  };
}

function skipOffset(token: string): number {
  try {
    const { offset } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { offset?: unknown };
    if (typeof offset === "number" && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // answered below
  }
  throw badParameter("The $skiptoken is invalid; use the nextLink of the previous page as it is.");
}
