/**
 * An AWS error that quotes the request's session token (X-Amz-Security-Token) inside JSON reaches no output
 * whole: not the `--json` result (where JSON escaping hides the header's quotes from a text pattern), not the
 * text on stderr, not the journal, not a webhook's body. The token is the environment's (AWS_SESSION_TOKEN),
 * never registered by rotator, so only its shape can give it away. The error comes from a proxy in front of
 * moto that refuses the write the way a service quoting its request would.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpProxy, startHttpProxy } from "../harness/http-proxy.js";
import { cliArgs, journals, runCli, runJson, writeConfigFor } from "./harness.js";
import { type Receiver, startReceiver } from "./notify-receiver.js";
import { useServerE2e } from "./server-e2e.js";

const e2e = useServerE2e();
// An STS session token's alphabet, slashes and pluses included (they survive JSON escaping but not a URL).
const SESSION_TOKEN = `IQoJb3JpZ2luX2Vj${randomBytes(48).toString("base64")}`;
let proxy: HttpProxy;
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
  proxy = await startHttpProxy(e2e.servers.aws.endpoint, (request) => {
    if (request.headers["x-amz-target"] !== "secretsmanager.PutSecretValue") return "forward";
    // The run's write is refused; its rollback's put of the old value (a new version, which fences a late write
    // of the run) goes through, so the run ends rolled back.
    if (isRestoreOfSeededValue(request.body)) return "forward";
    const quoted = JSON.stringify({ "X-Amz-Security-Token": request.headers["x-amz-security-token"] });
    return {
      status: 400,
      headers: { "content-type": "application/x-amz-json-1.1" },
      body: JSON.stringify({ __type: "AccessDeniedException", message: `request refused: ${quoted}` }),
    };
  });
});
afterAll(async () => {
  await proxy?.close();
  await receiver?.close();
});

/** A PutSecretValue writing the value the workspace seeded (a rollback putting it back), not a new key. */
let seeded: string | undefined;
function isRestoreOfSeededValue(body: Buffer): boolean {
  const { SecretString } = JSON.parse(body.toString("utf8")) as { SecretString?: string };
  return seeded !== undefined && SecretString === seeded;
}

describe("a session token quoted inside JSON by an AWS error", () => {
  it("is cut from the --json result, stderr, the journal and the webhook; the rest of the message stays", async () => {
    const ws = await e2e.workspace(1);
    ws.secrets.push(SESSION_TOKEN);
    seeded = JSON.stringify(e2e.seededValue(ws));
    const aws = await e2e.awsStore(ws, e2e.seededValue(ws), { endpoint: proxy.endpoint });
    ws.env.AWS_SESSION_TOKEN = SESSION_TOKEN;
    await writeConfigFor(ws, {
      stores: { 1: aws.entry },
      notify: [{ type: "webhook", url: `${receiver.url}/token` }],
    });

    const json = await runJson(cliArgs(ws, "rotate"), { env: ws.env });
    const text = await runCli(
      cliArgs(ws, "rotate").filter((arg) => arg !== "--json"),
      { env: ws.env },
    );

    // The write was refused (so the message was on every path) and the run rolled back.
    const puts = proxy.requests.filter((r) => r.headers["x-amz-target"] === "secretsmanager.PutSecretValue");
    expect(puts.filter((r) => !isRestoreOfSeededValue(r.body))).toHaveLength(2);
    expect(proxy.requests.every((r) => r.headers["x-amz-security-token"] === SESSION_TOKEN)).toBe(true);
    expect(json.run.code, json.run.stderr).toBe(3);
    expect(text.code, text.stderr).toBe(3);
    const outputs = {
      json: json.run.stdout,
      jsonStderr: json.run.stderr,
      text: text.stdout + text.stderr,
      journal: await journals(ws),
      webhooks: receiver.received.map((r) => r.body).join("\n"),
    };
    for (const [where, output] of Object.entries(outputs)) {
      expect(output.includes(SESSION_TOKEN), `${where} quotes the session token`).toBe(false);
      // Not even a piece of it: a JSON-escaped or URL-encoded copy would differ in its slashes and pluses.
      expect(output.includes(SESSION_TOKEN.slice(0, 24)), `${where} quotes part of the session token`).toBe(false);
    }
    // What was said around it is kept: the header's name, redacted in place, in each form.
    expect(JSON.stringify(json.result)).toContain(String.raw`{\"X-Amz-Security-Token\":\"[REDACTED]\"}`);
    expect(outputs.text).toContain('{"X-Amz-Security-Token":"[REDACTED]"}');
    expect(outputs.journal).toContain(String.raw`{\"X-Amz-Security-Token\":\"[REDACTED]\"}`);
    expect(receiver.events("/token")).toEqual(["rolled-back", "rolled-back"]);
    expect(outputs.webhooks).toContain(String.raw`\"X-Amz-Security-Token\":\"[REDACTED]\"`);
  });
});
