/**
 * A create whose 2xx answer is JSON but lacks the new key's sid or secret: the key exists at Twilio, but is
 * no use without its secret, so it is an unreadable answer (the issuer deletes it by name and creates again),
 * and the error quotes nothing of the body. (A body that is not JSON at all is caught by the client itself:
 * test/e2e/malformed-create-answer.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { isUnreadableResponse, type TwilioClient } from "../../src/twilio/client.js";
import { v2010Keys } from "../../src/twilio/v2010-keys.js";

const ACCOUNT = `AC${"1".repeat(32)}`;

/** A client whose every request is answered with `body` (what the generic request returns). */
const answering = (statusCode: number, body: unknown) =>
  ({ request: async () => ({ statusCode, body, headers: {} }) }) as unknown as TwilioClient;

describe("v2010Keys().createKey", () => {
  for (const [what, body] of [
    ["no secret", JSON.stringify({ sid: `SK${"a".repeat(32)}`, friendly_name: "x", date_created: "x" })],
    ["an empty secret", JSON.stringify({ sid: `SK${"a".repeat(32)}`, secret: "", friendly_name: "x" })],
    ["no sid", JSON.stringify({ secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-0001", friendly_name: "x" })],
    ["an empty body", ""],
  ] as const) {
    it(`an answer with ${what} is unreadable, and quotes nothing of it`, async () => {
      const error = await v2010Keys(answering(201, body), ACCOUNT)
        .createKey("x")
        .catch((e: unknown) => e);
      expect(isUnreadableResponse(error)).toBe(true);
      const message = (error as Error).message;
      expect(message).toContain(`POST /2010-04-01/Accounts/${ACCOUNT}/Keys.json answered HTTP 201`);
      expect(message).not.toContain("s3cr3t");
      expect(message).not.toContain("SKaaaa");
    });
  }

  it("a whole answer gives the key with its secret and creation date", async () => {
    const body = JSON.stringify({
      sid: `SK${"b".repeat(32)}`,
      secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-0002",
      friendly_name: "rotator-x",
      date_created: "Tue, 01 Dec 2026 10:00:00 +0000",
    });
    await expect(v2010Keys(answering(201, body), ACCOUNT).createKey("rotator-x")).resolves.toEqual({
      sid: `SK${"b".repeat(32)}`,
      secret: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-0002",
      friendlyName: "rotator-x",
      dateCreated: new Date("2026-12-01T10:00:00Z"),
    });
  });
});

describe("v2010Keys().listKeys", () => {
  const ask = (pages: Record<string, unknown>) =>
    ({
      request: async ({ uri }: { uri: string }) => ({
        statusCode: 200,
        body: JSON.stringify(pages[new URL(uri).pathname + new URL(uri).search]),
        headers: {},
      }),
    }) as unknown as TwilioClient;
  const first = `/2010-04-01/Accounts/${ACCOUNT}/Keys.json?PageSize=1000`;
  const key = (n: number) => ({ sid: `SK${String(n).repeat(32)}`, friendly_name: `k${n}`, date_created: "x" });

  it("follows next_page_uri to the last page", async () => {
    const second = `/2010-04-01/Accounts/${ACCOUNT}/Keys.json?PageSize=1000&Page=1&PageToken=PA1`;
    const keys = await v2010Keys(
      ask({ [first]: { keys: [key(1)], next_page_uri: second }, [second]: { keys: [key(2)], next_page_uri: null } }),
      ACCOUNT,
    ).listKeys();
    expect(keys.map((k) => k.friendlyName)).toEqual(["k1", "k2"]);
  });

  it("a next page it already gave is an unreadable answer, not a loop", async () => {
    const error = await v2010Keys(ask({ [first]: { keys: [key(1)], next_page_uri: first } }), ACCOUNT)
      .listKeys()
      .catch((e: unknown) => e);
    expect(isUnreadableResponse(error)).toBe(true);
    expect((error as Error).message).toContain("a next page it already gave");
  });

  it("a page without its list of keys is an unreadable answer", async () => {
    const error = await v2010Keys(ask({ [first]: { next_page_uri: null } }), ACCOUNT)
      .listKeys()
      .catch((e: unknown) => e);
    expect(isUnreadableResponse(error)).toBe(true);
    expect((error as Error).message).toContain("a page without its list of keys");
  });
});
