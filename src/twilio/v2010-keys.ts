/**
 * The account and its Standard API keys on the 2010 API, through the official client's generic
 * `request` rather than `client.api.v2010.accounts(…)`. That getter loads the client's whole 2010 resource
 * tree (about 90 modules: calls, conferences, queues…, some 90 ms of a process's start) for five calls whose
 * paths and fields Twilio's spec fixes (vendor/twilio-oai/twilio_api_v2010.json). The requests on the wire
 * are the ones the resource tree sends, through the same client: its authentication, Region and Edge,
 * and its errors (TwilioApiError, TwilioUnreadableResponseError: see client.ts).
 */
import { type TwilioClient, TwilioUnreadableResponseError } from "./client.js";

export interface V2010Key {
  sid: string;
  friendlyName: string;
  dateCreated: Date;
}

export interface V2010NewKey extends V2010Key {
  /** Only in the create's answer: Twilio never shows it again. */
  secret: string;
}

interface KeyPayload {
  sid: string;
  friendly_name: string;
  date_created: string;
  secret?: string;
}

interface KeysPage {
  keys: KeyPayload[];
  next_page_uri: string | null;
}

const ORIGIN = "https://api.twilio.com";

/** `date_created` is RFC 2822 (`Tue, 01 Dec 2026 10:00:00 +0000`), which Date parses. */
const toKey = (payload: KeyPayload): V2010Key => ({
  sid: payload.sid,
  friendlyName: payload.friendly_name,
  dateCreated: new Date(payload.date_created),
});

interface Answer<T> {
  status: number;
  body: T;
  /** The body's size, for an error that must not show it. */
  bytes: number;
}

async function call<T>(
  client: TwilioClient,
  method: "get" | "post" | "delete",
  uri: string,
  data?: Record<string, string>,
): Promise<Answer<T>> {
  const response = await client.request({ method, uri, ...(data === undefined ? {} : { data }) });
  // The client answers a 4xx or 5xx, and a 2xx body that is not JSON, with an error (client.ts).
  const raw: unknown = response.body;
  const text = typeof raw === "string" ? raw : JSON.stringify(raw ?? null);
  const body = (typeof raw === "string" ? (raw.length > 0 ? JSON.parse(raw) : undefined) : raw) as T;
  return { status: response.statusCode, body, bytes: Buffer.byteLength(text) };
}

export function v2010Keys(client: TwilioClient, accountSid: string) {
  const account = `${ORIGIN}/2010-04-01/Accounts/${accountSid}`;
  return {
    /** The account itself: only the Auth Token and Main keys may read it (the admin check). */
    fetchAccount: async (): Promise<void> => {
      await call(client, "get", `${account}.json`);
    },
    fetchKey: async (sid: string): Promise<V2010Key> =>
      toKey((await call<KeyPayload>(client, "get", `${account}/Keys/${sid}.json`)).body),
    createKey: async (friendlyName: string): Promise<V2010NewKey> => {
      const answer = await call<KeyPayload | undefined>(client, "post", `${account}/Keys.json`, {
        FriendlyName: friendlyName,
      });
      const payload = answer.body;
      // A key was made, but without its secret in hand it is no use: the issuer deletes it by name and
      // creates again, as for a body it could not read at all.
      if (typeof payload?.sid !== "string" || typeof payload.secret !== "string" || payload.secret.length === 0) {
        throw new TwilioUnreadableResponseError(
          answer.status,
          `POST /2010-04-01/Accounts/${accountSid}/Keys.json`,
          answer.bytes,
          "an answer without the new key's sid and secret",
        );
      }
      return { ...toKey(payload), secret: payload.secret };
    },
    /** Every key of the account, page after page (the largest page the spec allows). */
    listKeys: async (): Promise<V2010Key[]> => {
      const keys: V2010Key[] = [];
      const asked = new Set<string>();
      let uri: string | undefined = `${account}/Keys.json?PageSize=1000`;
      while (uri !== undefined) {
        asked.add(uri);
        const answer: Answer<KeysPage | undefined> = await call<KeysPage | undefined>(client, "get", uri);
        const page: KeysPage | undefined = answer.body;
        // A page without its list, or a next page already read (which would loop for ever), is no answer.
        const next: string | undefined = page?.next_page_uri ? `${ORIGIN}${page.next_page_uri}` : undefined;
        if (!Array.isArray(page?.keys) || (next !== undefined && asked.has(next))) {
          throw new TwilioUnreadableResponseError(
            answer.status,
            `GET /2010-04-01/Accounts/${accountSid}/Keys.json`,
            answer.bytes,
            Array.isArray(page?.keys) ? "a next page it already gave" : "a page without its list of keys",
          );
        }
        keys.push(...page.keys.map(toKey));
        uri = next;
      }
      return keys;
    },
    removeKey: async (sid: string): Promise<void> => {
      await call(client, "delete", `${account}/Keys/${sid}.json`);
    },
  };
}
