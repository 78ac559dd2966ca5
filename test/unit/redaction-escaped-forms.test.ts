/**
 * A secret is cut from every output however that output escaped it: a JSON document (a `--json` result, a
 * journal record, a webhook body) escapes the quotes a header's shape is recognised by, a JSON string inside a
 * JSON string escapes them twice, a URL encodes them. `redactedJson` is how every JSON document is written;
 * `redact` is how every text line is.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clearRegisteredSecrets, redact, redactedJson, registerSecret } from "../../src/util/mask.js";

const TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/SessionToken+Value==";

afterEach(() => {
  clearRegisteredSecrets();
});

/** The AWS error of issue #17: a message quoting the request's session token inside JSON. */
const awsMessage = `The security token included in the request is invalid: {"X-Amz-Security-Token":"${TOKEN}","x-amz-date":"20261201T000000Z"}`;

describe("credential headers (never registered: they come from the environment's credential chains)", () => {
  it("in a JSON document: a message quoting the header inside JSON is cut, not printed whole", () => {
    const out = redactedJson({ command: "plan", error: awsMessage }, 2);
    expect(out).not.toContain(TOKEN);
    expect(JSON.parse(out).error).toBe(
      'The security token included in the request is invalid: {"X-Amz-Security-Token":"[REDACTED]","x-amz-date":"20261201T000000Z"}',
    );
  });

  it("in text holding a JSON string escaped once, twice and three times (nested JSON in a string)", () => {
    const once = JSON.stringify({ body: JSON.stringify({ "x-amz-security-token": TOKEN }) });
    const twice = JSON.stringify({ log: once });
    const thrice = JSON.stringify([twice]);
    for (const text of [once, twice, thrice]) {
      const out = redact(text);
      expect(out, text).not.toContain("IQoJb3JpZ2lu");
      expect(out).toContain("[REDACTED]");
      // Still the document it was: only the value changed.
      expect(() => JSON.parse(out)).not.toThrow();
    }
    expect(JSON.parse(JSON.parse(redact(once)).body)).toEqual({ "x-amz-security-token": "[REDACTED]" });
  });

  it("URL-encoded: a presigned URL's query, an encoded query, and URL-encoded JSON", () => {
    const forms = [
      `GET https://secretsmanager.us-east-1.amazonaws.com/?X-Amz-Date=20261201&X-Amz-Security-Token=${encodeURIComponent(TOKEN)}&X-Amz-Signature=abc`,
      `next=${encodeURIComponent(`/?X-Amz-Security-Token=${TOKEN}`)}`,
      `payload=${encodeURIComponent(JSON.stringify({ authorization: `Bearer ${TOKEN}` }))}`,
      `payload=${encodeURIComponent(JSON.stringify({ "X-Vault-Token": TOKEN }))}`,
    ];
    for (const text of forms) {
      const out = redact(text);
      expect(out, text).not.toContain("IQoJb3JpZ2lu");
      expect(out).toContain("[REDACTED]");
    }
    expect(redact(forms[0]!)).toContain("&X-Amz-Signature=abc");
  });

  it("keeps the header's name and scheme, and leaves words alone", () => {
    expect(redact("Authorization: Basic QUMxMjM6c2VjcmV0")).toBe("Authorization: Basic [REDACTED]");
    expect(redact("x-vault-token=hvs.CAESIJ")).toBe("x-vault-token=[REDACTED]");
    expect(redact("authorization is required")).toBe("authorization is required");
    // Redacted twice (as strings, then as a document): the same text, not "[REDACTED]]".
    expect(redact(redact(`"authorization": "Bearer ${TOKEN}"`))).toBe('"authorization": "Bearer [REDACTED]"');
  });
});

describe("registered secrets (a key secret, a token, a database password)", () => {
  const password = 'pa"ss\\wo rd/+=%x';

  it("in a JSON document, where quotes and backslashes in it are escaped", () => {
    registerSecret(password);
    const out = redactedJson({ error: `connection failed for ${password}` });
    expect(out).not.toContain(JSON.stringify(password).slice(1, -1));
    expect(JSON.parse(out)).toEqual({ error: "connection failed for [REDACTED]" });
  });

  it("in text holding it JSON-escaped once or twice, or URL-encoded", () => {
    registerSecret(password);
    const jsonOnce = JSON.stringify({ password });
    const jsonTwice = JSON.stringify({ body: jsonOnce });
    const url = `postgres://rotator:${encodeURIComponent(password)}@db/rotator`;
    const form = `password=${encodeURIComponent(password).replaceAll("%20", "+")}`;
    for (const text of [jsonOnce, jsonTwice, url, form]) {
      const out = redact(text);
      expect(out, text).toContain("[REDACTED]");
      expect(out).not.toContain("wo rd");
      expect(out).not.toContain("wo%20rd");
      expect(out).not.toContain("wo+rd");
    }
    expect(JSON.parse(redact(jsonTwice))).toEqual({ body: '{"password":"[REDACTED]"}' });
  });

  it("as an object key in a JSON document", () => {
    registerSecret(TOKEN);
    const out = redactedJson({ [TOKEN]: 1, nested: [{ [`${TOKEN}x`]: TOKEN }] });
    expect(out).not.toContain("IQoJb3JpZ2lu");
    expect(JSON.parse(out)).toEqual({ "[REDACTED]": 1, nested: [{ "[REDACTED]x": "[REDACTED]" }] });
  });
});
