/**
 * A `kubernetes` consumer: the pods of a workload (or of a label selector), discovered at every poll and each
 * asked the http probe's question at podIP:port. Secret-free by construction (a token only by { env: NAME }), so
 * the entry itself is what a run journals to re-create the consumer on resume.
 */
import * as z from "zod";
import { storeName } from "../../../providers/schema-parts.js";
import { connectionFields, namespaceName, refineConnection } from "../../kubernetes-client/schema.js";

export const WORKLOAD_KINDS = ["deployment", "statefulset", "daemonset"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

const httpPath = z.string().regex(/^\/[^\s?#]*$/, "must be a path starting with / (no query, fragment or spaces)");

const workload = z
  .string()
  .regex(
    /^(deployment|statefulset|daemonset)\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
    "must be <kind>/<name> with kind deployment, statefulset or daemonset, e.g. deployment/web",
  )
  .describe("The workload whose pods use the credential: deployment/NAME, statefulset/NAME or daemonset/NAME.");

/**
 * A label selector as kubectl takes it (`app=web,tier!=canary`, `env in (a,b)`). Checked for shape only; the API
 * server parses it.
 */
const selector = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[A-Za-z0-9_./=!,()\s-]+$/, "must be a label selector such as app=web or app=web,tier=api")
  .describe("Instead of workload: every pod matching this label selector, e.g. app=web.");

export const kubernetesConsumerSchema = z
  .strictObject({
    name: storeName.describe("A short name for this consumer, used in messages, the journal and --json output."),
    type: z.literal("kubernetes"),
    namespace: namespaceName.describe("The namespace of the pods."),
    workload: workload.optional(),
    selector: selector.optional(),
    port: z.int().min(1).max(65_535).describe("The port each pod serves the status answer on (the container port)."),
    path: httpPath
      .default("/.well-known/twilio-credential")
      .describe("The status path of the http probe contract; default /.well-known/twilio-credential."),
    timeoutSeconds: z.number().positive().max(120).default(5).describe("Per request to a pod."),
    reload: z
      .union([
        z
          .literal("rollout")
          .describe("Restart the workload as `kubectl rollout restart` does, and wait for the rollout."),
        z
          .strictObject({ path: httpPath.describe("POSTed at each pod's podIP:port.") })
          .describe("Ask each pod to re-read its store (the http probe's reload hook)."),
      ])
      .optional()
      .describe(
        "How pods pick up the new credential: rollout (new pods read the Secret at start), or { path } POSTed to " +
          "each pod. Default: nothing; pods re-read on their own (a TTL, or on a 20003).",
      ),
    canary: z
      .int()
      .min(1)
      .optional()
      .describe(
        "Restart or reload this many pods first and check they authenticate with the new credential before any " +
          "other pod is touched; one that does not within verify.consumersTimeoutSeconds rolls the run back.",
      ),
    ...connectionFields,
  })
  .superRefine((entry, context) => {
    if ((entry.workload === undefined) === (entry.selector === undefined)) {
      context.addIssue({
        code: "custom",
        path: ["workload"],
        message: "give either workload: <kind>/<name> or selector: <labels>, not both nor neither",
      });
    }
    if (entry.reload === "rollout" && entry.workload === undefined) {
      context.addIssue({
        code: "custom",
        path: ["reload"],
        message:
          "rollout restarts a workload: give workload: <kind>/<name> (a selector's pods have no template to restart)",
      });
    }
    if (entry.canary !== undefined && entry.reload === undefined) {
      context.addIssue({
        code: "custom",
        path: ["canary"],
        message: "a canary is the first pod(s) restarted or reloaded: give reload: rollout or reload: { path }",
      });
    }
    refineConnection(entry, context);
  })
  .describe(
    "Pods of a Kubernetes workload, discovered at every poll; each Ready pod is probed at podIP:port like an " +
      "http consumer. reload: rollout restarts the workload (canary first with canary: N) and waits for the rollout.",
  );

export type KubernetesConsumerEntry = z.infer<typeof kubernetesConsumerSchema>;

/** `deployment/web` → its kind and name. */
export function parseWorkload(value: string): { kind: WorkloadKind; name: string } {
  const [kind, name = ""] = value.split("/");
  return { kind: kind as WorkloadKind, name };
}
