/** The deployment examples in config/examples/ say what the README promises: rotate --if-due, never overlapping. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { packageRoot } from "../../src/util/package-root.js";

const examples = join(packageRoot(), "config", "examples");

describe("deployment examples", () => {
  it("the Kubernetes CronJob forbids concurrent runs, keeps its state, and runs resume then rotate --if-due", () => {
    const job = parse(readFileSync(join(examples, "kubernetes-cronjob.yaml"), "utf8"));
    expect(job).toMatchObject({ apiVersion: "batch/v1", kind: "CronJob", spec: { concurrencyPolicy: "Forbid" } });
    const pod = job.spec.jobTemplate.spec.template.spec;
    const command = [...pod.containers[0].command, ...pod.containers[0].args].join(" ");
    expect(command).toContain("rotator resume --config /etc/rotator/rotator.yaml");
    expect(command).toContain("rotator rotate --if-due --yes --config /etc/rotator/rotator.yaml");
    expect(pod.volumes.find((v: { name: string }) => v.name === "state").persistentVolumeClaim).toBeDefined();
  });

  it("the systemd service runs rotate --if-due from a timer", () => {
    const service = readFileSync(join(examples, "systemd", "rotator-rotate.service"), "utf8");
    const timer = readFileSync(join(examples, "systemd", "rotator-rotate.timer"), "utf8");
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/bin\/rotator rotate --if-due --yes --config \S+$/m);
    expect(service).toMatch(/^StateDirectory=rotator$/m);
    expect(timer).toMatch(/^OnCalendar=\S+ 03:00:00$/m);
    expect(timer).toMatch(/^Unit=rotator-rotate\.service$/m);
  });
});
