/**
 * Access tokens as Microsoft Entra ID issues them for Key Vault: JWTs with the resource as `aud`, the tenant as
 * `tid` and in `iss`, the application as `appid`, and `nbf`/`exp`. Signed here with HMAC-SHA256 and a key only
 * this server knows (Entra signs with RS256 and publishes its keys; no client of the vault ever checks the
 * signature, only the vault does, so the difference is invisible to them).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The resource Key Vault's data plane answers for; the SDK asks for `<resource>/.default`. */
export const KEY_VAULT_RESOURCE = "https://vault.azure.net";

export interface TokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  oid: string;
  iat: number;
  nbf: number;
  exp: number;
  ver: "1.0";
}

export function issuerFor(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

export class TokenSigner {
  readonly #key: Buffer;

  /** A key of its own unless given one: a server restarted with the same key accepts the tokens it issued. */
  constructor(key: Buffer = randomBytes(32)) {
    if (key.length < 32) throw new Error("a token signing key needs at least 32 bytes");
    this.#key = key;
  }

  sign(claims: TokenClaims): string {
    const header = encode({ typ: "JWT", alg: "HS256", kid: "keyvault-test-server" });
    const payload = encode(claims);
    return `${header}.${payload}.${this.#mac(`${header}.${payload}`)}`;
  }

  /** The claims of a token this signer made, or undefined for anything else. */
  verify(token: string): TokenClaims | undefined {
    const [header, payload, signature, ...rest] = token.split(".");
    if (header === undefined || payload === undefined || signature === undefined || rest.length > 0) return undefined;
    const expected = Buffer.from(this.#mac(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenClaims;
    } catch {
      return undefined;
    }
  }

  #mac(data: string): string {
    return createHmac("sha256", this.#key).update(data).digest("base64url");
  }
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}
