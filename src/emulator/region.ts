/**
 * Which Twilio Region a request was meant for.
 *
 * Twilio encodes it in the hostname, `{product}.{edge}.{region}.twilio.com`, and a host without one is US1
 * (https://www.twilio.com/docs/global-infrastructure/using-the-twilio-rest-api-in-a-non-us-region). The
 * official client builds such hosts from its `region`/`edge` options (BaseTwilio.getHostname, which also
 * reads `{product}.{region}.twilio.com`). Credentials are per Region: "any given Auth Token or API Key is
 * only valid for the Twilio Region in which it was created"
 * (https://www.twilio.com/docs/global-infrastructure/manage-regional-api-credentials).
 *
 * A client pointed at the emulator (src/twilio/client.ts) sends every request to one origin and keeps the
 * host it meant in `X-Forwarded-Host`, the header proxies use for exactly that. A request naming no Twilio
 * host is for US1.
 */
import type { IncomingHttpHeaders } from "node:http";

export const DEFAULT_REGION = "us1";

/** The Regions every emulated account holds credentials in, unless the emulator is told otherwise. */
export const DEFAULT_REGIONS: readonly string[] = ["us1", "ie1", "au1"];

export const REGION = /^[a-z]{2}\d$/;

export interface TwilioHost {
  /** The full hostname, e.g. `api.dublin.ie1.twilio.com`. */
  host: string;
  product: string;
  edge: string | undefined;
  region: string;
  /** False for the legacy hosts (`api.twilio.com`) that name neither edge nor region. */
  explicit: boolean;
}

const TWILIO_HOST = /^([a-z0-9-]+)(?:\.([a-z0-9-]+))?(?:\.([a-z0-9-]+))?\.twilio\.com$/;

/** Parses a Twilio hostname the way the official client composes it; undefined for any other host. */
export function parseTwilioHost(value: string): TwilioHost | undefined {
  const host = value.toLowerCase().replace(/:\d+$/, "");
  const match = TWILIO_HOST.exec(host);
  if (!match?.[1]) return undefined;
  const [, product, first, second] = match;
  // `api.ie1.twilio.com` names a region only; `api.dublin.ie1.twilio.com` an edge and a region.
  const edge = second === undefined ? undefined : first;
  const region = second ?? first;
  if (region !== undefined && !REGION.test(region)) return undefined;
  return { host, product, edge, region: region ?? DEFAULT_REGION, explicit: region !== undefined };
}

/** The Twilio host a request was meant for: `X-Forwarded-Host` first, then `Host`. */
export function requestedTwilioHost(headers: IncomingHttpHeaders): TwilioHost | undefined {
  const forwarded = headers["x-forwarded-host"];
  const candidates = [Array.isArray(forwarded) ? forwarded[0] : forwarded, headers.host];
  for (const candidate of candidates) {
    const parsed = candidate === undefined ? undefined : parseTwilioHost(candidate.split(",")[0]?.trim() ?? "");
    if (parsed) return parsed;
  }
  return undefined;
}
