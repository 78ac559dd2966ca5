/**
 * Config pieces every Kubernetes entry shares (the `kubernetes-secret` store, the `kubernetes` consumer): names
 * as the API server accepts them, and how rotator reaches the API server.
 */
import * as z from "zod";
import { envReferenceFor, httpUrl } from "../config/schema-parts.js";

/** A namespace: an RFC 1123 label, as the API server requires. */
export const namespaceName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
    "must be a Kubernetes namespace name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters",
  )
  .describe("The namespace.");

/** An object name (Secret, Deployment): an RFC 1123 subdomain. */
export function objectName(what: string) {
  return z
    .string()
    .max(253, `a ${what} name has at most 253 characters`)
    .regex(
      /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
      `must be a Kubernetes ${what} name: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
}

/**
 * How to reach the API server. Nothing given: in a pod, its service account (KUBERNETES_SERVICE_HOST and the
 * mounted token); elsewhere $KUBECONFIG, then ~/.kube/config.
 */
export const connectionFields = {
  kubeconfig: z
    .string()
    .min(1)
    .optional()
    .describe(
      "A kubeconfig file (~ is your home directory; a relative path is resolved against the config file's " +
        "directory). Default: in a pod its service account, else $KUBECONFIG, else ~/.kube/config.",
    ),
  context: z.string().min(1).optional().describe("The kubeconfig context to use. Default: its current context."),
  server: httpUrl({ example: "https://10.0.0.1:6443", shape: "noQuery" })
    .optional()
    .describe("The API server's URL, with `token` instead of a kubeconfig, e.g. https://10.0.0.1:6443."),
  token: envReferenceFor({ example: "KUBERNETES_TOKEN", what: "the token" })
    .optional()
    .describe("With `server`: the environment variable holding a bearer token (a service account's)."),
  caFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      "With `server`: the PEM file of the CA that signed the API server's certificate (relative to the config file).",
    ),
};

export type KubernetesConnection = {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  server?: string | undefined;
  token?: { env: string } | undefined;
  caFile?: string | undefined;
};

/** The connection fields' rules: one way to reach the server, each field with the ones it needs. */
export function refineConnection(entry: KubernetesConnection, context: z.RefinementCtx): void {
  if ((entry.server === undefined) !== (entry.token === undefined)) {
    context.addIssue({
      code: "custom",
      path: [entry.server === undefined ? "server" : "token"],
      message:
        "give server and token together (a bearer token for that API server), or neither (a kubeconfig, or the pod's service account)",
    });
  }
  if (entry.server !== undefined && (entry.kubeconfig !== undefined || entry.context !== undefined)) {
    context.addIssue({
      code: "custom",
      path: [entry.kubeconfig === undefined ? "context" : "kubeconfig"],
      message: "give either a kubeconfig (and context) or server and token, not both",
    });
  }
  if (entry.caFile !== undefined && entry.server === undefined) {
    context.addIssue({
      code: "custom",
      path: ["caFile"],
      message: "is only used with server and token (a kubeconfig names its own CA); remove it or give server",
    });
  }
  if (entry.server?.startsWith("http:") && !isLoopbackUrl(entry.server)) {
    context.addIssue({
      code: "custom",
      path: ["server"],
      message:
        "must be https:// (the token would cross the network in clear); http:// is only for a local kubectl proxy on 127.0.0.1 or localhost",
    });
  }
  if (entry.caFile !== undefined && entry.server?.startsWith("http:")) {
    context.addIssue({ code: "custom", path: ["caFile"], message: "is only used with an https:// server" });
  }
}

function isLoopbackUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
