/**
 * An Auth Token rotation over an AWS secret and a Kubernetes Secret External Secrets Operator fills from it
 * (`syncedFrom`; eso-fixture.ts stands in for the operator): after the retire write, the synced Secret is asked
 * to refresh and waited for until it no longer holds the previous token (an app reading it would otherwise keep
 * accepting webhooks signed with the old token), journaled `stores-synced` with direction `retired`. A syncer that
 * stops catching up after the first write leaves the run awaiting (exit 4, the old token already promoted away);
 * `resume` waits for it again without writing anything twice.
 */
import { describe, expect, it } from "vitest";
import { secretData } from "../harness/kubernetes.js";
import { esoFixture } from "./eso-fixture.js";
import { runJson } from "./harness.js";
import { events } from "./kubernetes-e2e.js";
import { useServerE2e } from "./server-e2e.js";
import { type TokenConfig, type TokenWorkspace, tokenArgs, tokenWorks, tokenWorkspace } from "./token-workspace.js";

const e2e = useServerE2e();

/** The account's token in AWS and in the synced Secret, and a config over both. */
async function syncedTokenRig(ws: TokenWorkspace) {
  let config: TokenConfig | undefined;
  const eso = await esoFixture(e2e, ws, {
    value: { accountSid: ws.account.sid, authToken: ws.account.token },
    fields: (value) => ({
      TWILIO_ACCOUNT_SID: value.accountSid ?? "",
      TWILIO_AUTH_TOKEN: value.authToken ?? "",
      ...(value.previousAuthToken === undefined ? {} : { TWILIO_PREVIOUS_AUTH_TOKEN: value.previousAuthToken }),
    }),
    writeConfig: async (stores) => {
      config = await ws.tokenConfig("synced", [], { stores, verify: { consumersPollSeconds: 0.2 } });
    },
  });
  const mirror = async () => (await secretData(eso.kube, eso.namespace, "twilio-eso")) ?? {};
  const journal = async () => (await events({ ...ws, stateDir: config!.stateDir })) as Line[];
  return { eso, config: config!, mirror, journal };
}

type Line = Record<string, unknown> & { event: string };

describe("a store filled from a store the run writes (syncedFrom), across the Auth Token's retire", () => {
  it("is waited for until it no longer holds the previous token, after the retire write and before the run ends", async () => {
    const ws = await tokenWorkspace(e2e);
    const { eso, config, mirror, journal } = await syncedTokenRig(ws);

    // plan lists the synced Secret's wait after the retire of the store it follows.
    const planned = await runJson(tokenArgs(config, "plan"), { env: ws.env });
    const actions = (planned.result as unknown as { actions: Array<{ action: string; target: string }> }).actions;
    const retireAt = actions.findIndex((action) => action.action === "retire" && action.target === "aws");
    const waits = actions.flatMap((action, i) =>
      action.action === "await-sync" && action.target === "k8s-mirror" ? [i] : [],
    );
    expect(waits).toHaveLength(2);
    expect(waits[1]).toBeGreaterThan(retireAt);
    expect(retireAt).toBeGreaterThan(waits[0]!);

    const { run } = await runJson(tokenArgs(config, "rotate", "--yes"), { env: ws.env });

    expect(run.code, run.stderr).toBe(0);
    const held = await mirror();
    const fresh = held.TWILIO_AUTH_TOKEN ?? "";
    ws.secrets.push(fresh);
    expect(fresh).not.toBe(ws.account.token);
    expect(await tokenWorks(e2e.emulator, ws.account.sid, fresh)).toBe(true);
    expect(await tokenWorks(e2e.emulator, ws.account.sid, ws.account.token)).toBe(false);
    // The Secret followed twice: the new token with the old one beside it, then the new one alone.
    expect(held.TWILIO_PREVIOUS_AUTH_TOKEN).toBeUndefined();
    expect(eso.syncer.keys).toEqual([
      ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_PREVIOUS_AUTH_TOKEN"],
      ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"],
    ]);
    const lines = await journal();
    const at = (predicate: (line: Line) => boolean) => lines.findIndex(predicate);
    const retired = at((line) => line.event === "previous-retired");
    const waited = at((line) => line.event === "stores-synced" && line.direction === "retired");
    expect(retired).toBeGreaterThan(0);
    expect(waited).toBeGreaterThan(retired);
    expect(lines[waited]).toMatchObject({ converged: true, laggards: [] });
    const asked = lines.filter((line) => line.event === "store-sync-requested" && line.store === "k8s-mirror");
    expect(asked).toHaveLength(2);
    expect(lines.indexOf(asked[1]!)).toBeGreaterThan(retired);
    expect(at((line) => line.event === "run-finished")).toBeGreaterThan(waited);
  });

  it("a syncer that stops after the first write: exit 4 naming the Secret and what it holds; resume waits again and completes", async () => {
    const ws = await tokenWorkspace(e2e);
    const { eso, config, mirror, journal } = await syncedTokenRig(ws);
    eso.syncer.limit = 1;

    const first = await runJson(tokenArgs(config, "rotate", "--yes"), { env: ws.env });

    expect(first.run.code, first.run.stderr).toBe(4);
    expect(first.result.status).toBe("awaiting-consumers");
    expect(String(first.result.error)).toMatch(
      /retired from every store rotator writes, but not every store filled from them dropped it yet: k8s-mirror \(synced from aws; holds .+ with the previous one beside it\)/,
    );
    const stuck = await mirror();
    ws.secrets.push(stuck.TWILIO_AUTH_TOKEN ?? "");
    expect(stuck.TWILIO_PREVIOUS_AUTH_TOKEN).toBe(ws.account.token);
    expect(await tokenWorks(e2e.emulator, ws.account.sid, ws.account.token)).toBe(false);
    const before = await journal();
    expect(before.filter((line) => line.event === "stores-synced").at(-1)).toMatchObject({
      direction: "retired",
      converged: false,
    });

    // The syncer catches up: resume asks it again, waits, and ends the run; nothing is written or retired twice.
    eso.syncer.limit = undefined;
    const resumed = await runJson(tokenArgs(config, "resume", "--yes"), { env: ws.env });
    expect(resumed.run.code, resumed.run.stderr).toBe(0);
    expect(resumed.result.status).toBe("completed");
    const after = await mirror();
    expect(after.TWILIO_AUTH_TOKEN).toBe(stuck.TWILIO_AUTH_TOKEN);
    expect(after.TWILIO_PREVIOUS_AUTH_TOKEN).toBeUndefined();
    const lines = await journal();
    expect(lines.filter((line) => line.event === "stores-synced").at(-1)).toMatchObject({
      direction: "retired",
      converged: true,
    });
    expect(lines.filter((line) => line.event === "retire-started")).toHaveLength(1);
    expect(lines.filter((line) => line.event === "store-written")).toHaveLength(1);
  });
});
