/**
 * The monitoring pack (monitoring/): the alert rules pass `promtool check rules`, and `promtool test rules` fires
 * each alert from sample series (every alert has a test where it fires); the Grafana dashboard's queries are
 * PromQL promtool accepts and name only metrics `rotator watch` serves, and it shows every one of them. promtool
 * is Debian's, unpacked into the servers' cache.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { packageRoot } from "../../src/util/package-root.js";
import { WatchMetrics } from "../../src/watch/metrics.js";
import { debianTool, type InstalledTool } from "../harness/debian-tools.js";

const execFileAsync = promisify(execFile);
const root = packageRoot();
const RULES = join(root, "monitoring/prometheus/rotator-alerts.yaml");
const RULE_TESTS = join(root, "monitoring/prometheus/rotator-alerts.test.yaml");
const DASHBOARD = join(root, "monitoring/grafana/rotator-dashboard.json");
/** Grafana's reference to the dashboard's datasource variable (chosen at import). */
const DATASOURCE = ["$", "{datasource}"].join("");

interface Rules {
  groups: Array<{ name: string; rules: Array<{ alert: string; expr: string; labels?: { severity?: string } }> }>;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> }>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

let promtool: InstalledTool;
const rules = parse(readFileSync(RULES, "utf8")) as Rules;
const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;
const alerts = rules.groups.flatMap((group) => group.rules);
const panelExprs = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
const variableQueries = dashboard.templating.list
  .filter((variable) => variable.type === "query")
  .map((variable) =>
    typeof variable.query === "string" ? variable.query : (variable.query as { query: string }).query,
  );

/** What `rotator watch --metrics-port` serves, as its own registry names them. */
async function servedMetrics(): Promise<string[]> {
  return (await new WatchMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name).sort();
}

/** The metric names a PromQL expression reads (rotator's all start rotator_). */
const metricsIn = (expr: string) => [...expr.matchAll(/\brotator_[a-z0-9_]+/g)].map((match) => match[0]);

beforeAll(async () => {
  promtool = await debianTool("promtool");
});

describe("the Prometheus alert rules", () => {
  it("pass promtool check rules", async () => {
    const { stdout } = await execFileAsync(promtool.bin, ["check", "rules", RULES]);
    expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it("pass promtool test rules, which fires every alert from sample series", async () => {
    const { stdout } = await execFileAsync(promtool.bin, ["test", "rules", RULE_TESTS], {
      cwd: join(root, "monitoring/prometheus"),
    });
    expect(stdout).toContain("SUCCESS");
    const tests = parse(readFileSync(RULE_TESTS, "utf8")) as RuleTests;
    const fired = new Set(
      tests.tests.flatMap((group) =>
        (group.alert_rule_test ?? [])
          .filter((test) => (test.exp_alerts ?? []).length > 0)
          .map((test) => test.alertname),
      ),
    );
    expect([...fired].sort()).toEqual(alerts.map((alert) => alert.alert).sort());
  });

  it("cover what the issue asks: rotation failed, overdue, watch unhealthy, a consumer not authenticated, 20003 rising", () => {
    expect(alerts.map((alert) => alert.alert)).toEqual(
      expect.arrayContaining([
        "RotatorRotationFailed",
        "RotatorCredentialOverdue",
        "RotatorWatchUnhealthy",
        "RotatorConsumerNotAuthenticated",
        "RotatorTwilio20003Rising",
      ]),
    );
    for (const alert of alerts) expect(["critical", "warning"]).toContain(alert.labels?.severity);
  });

  it("read only metrics watch serves", async () => {
    const served = await servedMetrics();
    for (const alert of alerts) {
      const named = metricsIn(alert.expr);
      expect(named.length, alert.alert).toBeGreaterThan(0);
      expect(
        named.filter((name) => !served.includes(name)),
        alert.alert,
      ).toEqual([]);
    }
  });
});

describe("the Grafana dashboard", () => {
  it("queries only metrics watch serves, and shows every one of them", async () => {
    const served = await servedMetrics();
    const named = new Set([...panelExprs, ...variableQueries].flatMap(metricsIn));
    expect([...named].filter((name) => !served.includes(name))).toEqual([]);
    expect(served.filter((name) => !named.has(name))).toEqual([]);
  });

  it("queries are PromQL promtool accepts (Grafana's variables filled in)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rotator-dashboard-"));
    try {
      const filled = panelExprs.map((expr) =>
        expr.replaceAll("$account", ".*").replaceAll("$__rate_interval", "5m").replaceAll("$__interval", "1m"),
      );
      const file = join(dir, "dashboard-queries.yaml");
      // Each query as a recording rule: check rules parses every expression.
      await writeFile(
        file,
        JSON.stringify({
          groups: [{ name: "dashboard", rules: filled.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }],
        }),
      );
      const { stdout } = await execFileAsync(promtool.bin, ["check", "rules", file]);
      expect(stdout).toContain(`SUCCESS: ${filled.length} rules found`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("is importable as it is: unique panel ids, every query on the datasource variable, an account variable", () => {
    expect(dashboard.uid).toBe("rotator-watch");
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = dashboard.templating.list.map((variable) => `${variable.name}:${variable.type}`);
    expect(variables).toEqual(expect.arrayContaining(["datasource:datasource", "account:query"]));
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      expect(panel.datasource?.uid, panel.title).toBe(DATASOURCE);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe(DATASOURCE);
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
  });
});
