/**
 * The probes hold consumers to the webhook tokens a rotation expects (Expected.webhooks): an http consumer (and each
 * pod of a kubernetes one, which answers the same question) that reports `webhookTokenFingerprints` converges only
 * when it validates with every token it must trust and none that is retired; one that does not report them is not
 * held to it. A command check gets the two lists in its environment. Real node:http servers and child processes.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tokenFingerprint } from "../../providers/contract.js";
import { createCommandProbe } from "../../src/consumer-probes/command-probe.js";
import { createHttpProbe, judge } from "../../src/consumer-probes/http-probe.js";
import type { Expected } from "../../src/consumer-probes/index.js";
import { commandConsumerSchema, httpConsumerSchema } from "../../src/consumer-probes/schema.js";

beforeEach(() => {
  expect.hasAssertions();
});

const NEW = tokenFingerprint("new-token-0123456789abcdef0123456");
const OLD = tokenFingerprint("old-token-0123456789abcdef0123456");
const OTHER = tokenFingerprint("other-token-0123456789abcdef01234");
const mask = (fingerprint: string) => `${fingerprint.slice(0, 2)}…${fingerprint.slice(-4)}`;

const BOTH: Expected = { kind: "auth-token", id: NEW, webhooks: { trusts: [NEW, OLD], retired: [] } };
const NEW_ONLY: Expected = { kind: "auth-token", id: NEW, webhooks: { trusts: [NEW], retired: [OLD] } };

describe("judging a status answer against the webhook tokens expected", () => {
  const answer = (webhookTokenFingerprints?: unknown) => ({
    tokenFingerprint: NEW,
    authenticated: true,
    ...(webhookTokenFingerprints === undefined ? {} : { webhookTokenFingerprints }),
  });

  it("converges when the app validates with every trusted token and no retired one, and says which it validates with", () => {
    const both = judge(answer([OLD, NEW]), BOTH);
    expect(both.state).toBe("converged");
    expect(both.detail).toContain(`validates webhooks with ${mask(OLD)}, ${mask(NEW)}`);
    expect(judge(answer([NEW]), NEW_ONLY).state).toBe("converged");
    expect(judge(answer([NEW, OTHER]), NEW_ONLY).state).toBe("converged");
  });

  it("does not converge while a trusted token is missing, or a retired one is still there, naming them masked", () => {
    const missing = judge(answer([NEW]), BOTH);
    expect(missing).toMatchObject({ state: "other-webhook-tokens", reported: mask(NEW) });
    expect(missing.detail).toContain(`does not validate webhooks with ${mask(OLD)} yet`);
    const stale = judge(answer([NEW, OLD]), NEW_ONLY);
    expect(stale.state).toBe("other-webhook-tokens");
    expect(stale.detail).toContain(`still validates webhooks with the retired ${mask(OLD)}`);
    for (const report of [missing, stale]) {
      expect(report.detail).not.toContain(NEW);
      expect(report.detail).not.toContain(OLD);
    }
  });

  it("does not hold an app that does not report webhook tokens (it does not validate webhooks) to them", () => {
    expect(judge(answer(), BOTH).state).toBe("converged");
    expect(judge(answer(), NEW_ONLY).state).toBe("converged");
  });

  it("the credential comes first: an app on the old token is other-credential whatever it validates with", () => {
    expect(
      judge({ tokenFingerprint: OLD, authenticated: true, webhookTokenFingerprints: [NEW, OLD] }, BOTH).state,
    ).toBe("other-credential");
  });

  it("a webhookTokenFingerprints that is not a list of strings is a bad response", () => {
    expect(judge(answer("abc"), BOTH).state).toBe("bad-response");
    expect(judge(answer([1, 2]), BOTH).state).toBe("bad-response");
  });

  it("without a webhook expectation (API keys, a sync) the reported tokens do not matter", () => {
    expect(judge(answer([OTHER]), { kind: "auth-token", id: NEW }).state).toBe("converged");
  });
});

describe("the http probe asks a real app", () => {
  let server: Server;
  let url: string;
  let reported: string[] | undefined;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.setHeader("content-type", "application/json");
      response.end(
        JSON.stringify({
          tokenFingerprint: NEW,
          authenticated: true,
          ...(reported === undefined ? {} : { webhookTokenFingerprints: reported }),
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/status`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("converges on both tokens only once the app reports both, then on the new only once it drops the old", async () => {
    const probe = createHttpProbe(httpConsumerSchema.parse({ name: "web", type: "http", url }), {
      baseDir: tmpdir(),
      env: {},
    });
    reported = [NEW];
    expect((await probe.check(BOTH)).state).toBe("other-webhook-tokens");
    reported = [NEW, OLD];
    expect((await probe.check(BOTH)).state).toBe("converged");
    expect((await probe.check(NEW_ONLY)).state).toBe("other-webhook-tokens");
    reported = [NEW];
    expect((await probe.check(NEW_ONLY)).state).toBe("converged");
    reported = undefined;
    expect((await probe.check(NEW_ONLY)).state).toBe("converged");
  });
});

describe("the command probe", () => {
  const dir = mkdtempSync(join(tmpdir(), "rotator-webhook-probe-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A check that records the webhook variables it saw (or "unset"), and exits 0. */
  function recordingProbe(out: string) {
    const script =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell's parameter expansion, not a template
      'printf "%s|%s" "${ROTATOR_EXPECTED_WEBHOOK_FINGERPRINTS-unset}" "${ROTATOR_RETIRED_WEBHOOK_FINGERPRINTS-unset}" > "$1"';
    return createCommandProbe(
      commandConsumerSchema.parse({ name: "check", type: "command", command: ["sh", "-c", script, "check", out] }),
      { baseDir: dir, env: { PATH: process.env.PATH } },
    );
  }

  it("gets the trusted and retired fingerprints, comma-separated, when the rotation sets them; exit 0 still converges", async () => {
    const out = join(dir, "both");
    expect((await recordingProbe(out).check(BOTH)).state).toBe("converged");
    expect(readFileSync(out, "utf8")).toBe(`${NEW},${OLD}|`);
    await recordingProbe(out).check(NEW_ONLY);
    expect(readFileSync(out, "utf8")).toBe(`${NEW}|${OLD}`);
  });

  it("gets neither variable without a webhook expectation", async () => {
    const out = join(dir, "none");
    await recordingProbe(out).check({ kind: "auth-token", id: NEW });
    expect(readFileSync(out, "utf8")).toBe("unset|unset");
  });
});
