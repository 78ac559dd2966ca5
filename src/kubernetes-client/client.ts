/**
 * A connection to a Kubernetes API server through the official client (`@kubernetes/client-node`), shared by the
 * `kubernetes-secret` store and the `kubernetes` consumer. The client is loaded here, with a dynamic import, the
 * first time a config names a Kubernetes entry: it weighs ~1 s of start-up that no other command should pay.
 *
 * Every request carries a deadline (an unreachable API server is named as such within it, not waited on).
 */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, isAbsolute, resolve } from "node:path";
import type * as K8s from "@kubernetes/client-node";
import type { KubernetesConnection } from "./schema.js";

export type KubernetesLibrary = typeof K8s;

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const DEFAULT_TIMEOUT_MS = 10_000;

/** The connection cannot be set up (no kubeconfig, an unknown context, an unset token variable). */
export class KubernetesSetupError extends Error {
  override readonly name = "KubernetesSetupError";
}

let library: Promise<KubernetesLibrary> | undefined;

/** The client library, loaded once; a missing package is an error that says what to install. */
export function loadKubernetesLibrary(): Promise<KubernetesLibrary> {
  library ??= import("@kubernetes/client-node").catch((error: unknown) => {
    library = undefined;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new KubernetesSetupError(
        "the Kubernetes client is not installed: run `npm install @kubernetes/client-node@1.4.0` (1.x runs on Node 20)",
      );
    }
    throw error;
  });
  return library;
}

export interface ConnectOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** The config file's directory: relative kubeconfig and caFile paths are resolved against it. */
  baseDir: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface ResolvedKubeConfig {
  kubeConfig: K8s.KubeConfig;
  /** The API server's URL. */
  server: string;
  /** Where the connection comes from, for messages: `kubeconfig ~/.kube/config (context prod)`. Never a secret. */
  source: string;
}

/**
 * The kubeconfig a connection stands for, read now (files, environment), without a request. Order when the
 * entry names nothing: the pod's service account, then $KUBECONFIG, then ~/.kube/config.
 */
export async function resolveKubeConfig(
  connection: KubernetesConnection,
  options: ConnectOptions,
): Promise<ResolvedKubeConfig> {
  const k8s = await loadKubernetesLibrary();
  const kubeConfig = new k8s.KubeConfig();
  const { env } = options;
  let source: string;
  if (connection.server !== undefined && connection.token !== undefined) {
    const token = env[connection.token.env];
    if (token === undefined || token === "") {
      throw new KubernetesSetupError(
        `environment variable ${connection.token.env} (token) is not set or empty; set it to a bearer token for ${connection.server}`,
      );
    }
    const caFile = connection.caFile === undefined ? undefined : resolve(options.baseDir, connection.caFile);
    if (caFile !== undefined && !existsSync(caFile)) {
      throw new KubernetesSetupError(`caFile ${caFile} does not exist; it must be the PEM file of the API server's CA`);
    }
    // http:// is only ever a local `kubectl proxy` (the schema refuses it elsewhere); the client wants that said.
    const plain = connection.server.startsWith("http:");
    kubeConfig.loadFromOptions({
      clusters: [
        {
          name: "rotator",
          server: connection.server,
          ...(caFile === undefined ? {} : { caFile }),
          ...(plain ? { skipTLSVerify: true } : {}),
        },
      ],
      users: [{ name: "rotator", token }],
      contexts: [{ name: "rotator", cluster: "rotator", user: "rotator" }],
      currentContext: "rotator",
    });
    source = `${connection.server} with the token in $${connection.token.env}`;
  } else if (connection.kubeconfig === undefined && inCluster(env)) {
    const host = env.KUBERNETES_SERVICE_HOST ?? "";
    kubeConfig.loadFromOptions({
      clusters: [
        {
          name: "in-cluster",
          server: `https://${host.includes(":") ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT}`,
          caFile: `${SERVICE_ACCOUNT_DIR}/ca.crt`,
        },
      ],
      // Read at every request: the kubelet renews a projected token file well before it expires.
      users: [
        {
          name: "in-cluster",
          authProvider: { name: "tokenFile", config: { tokenFile: `${SERVICE_ACCOUNT_DIR}/token` } },
        },
      ],
      contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "in-cluster" }],
      currentContext: "in-cluster",
    });
    source = "the pod's service account";
  } else {
    const files = kubeconfigFiles(connection, options);
    const present = files.filter((file) => existsSync(file));
    if (present.length === 0) {
      throw new KubernetesSetupError(
        `no kubeconfig: ${files.join(", ")} ${files.length === 1 ? "does" : "do"} not exist. Name one with kubeconfig:, ` +
          "set $KUBECONFIG, or give server: and token: { env: NAME }",
      );
    }
    for (const [index, file] of present.entries()) {
      try {
        if (index === 0) kubeConfig.loadFromFile(file);
        else {
          const more = new k8s.KubeConfig();
          more.loadFromFile(file);
          kubeConfig.mergeConfig(more, true);
        }
      } catch (error) {
        throw new KubernetesSetupError(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
      }
    }
    if (connection.context !== undefined) {
      if (kubeConfig.getContextObject(connection.context) === null) {
        const known = kubeConfig.getContexts().map((c) => c.name);
        throw new KubernetesSetupError(
          `kubeconfig ${present.join(delimiter)} has no context "${connection.context}"` +
            (known.length > 0 ? ` (it has: ${known.join(", ")})` : ""),
        );
      }
      kubeConfig.setCurrentContext(connection.context);
    }
    source = `kubeconfig ${present.join(delimiter)} (context ${kubeConfig.getCurrentContext() || "none"})`;
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null || cluster.server === "") {
    throw new KubernetesSetupError(`${source} names no cluster with a server; check its current-context`);
  }
  return { kubeConfig, server: cluster.server.replace(/\/+$/, ""), source };
}

function inCluster(env: Readonly<Record<string, string | undefined>>): boolean {
  return (
    (env.KUBERNETES_SERVICE_HOST ?? "") !== "" &&
    (env.KUBERNETES_SERVICE_PORT ?? "") !== "" &&
    existsSync(`${SERVICE_ACCOUNT_DIR}/token`)
  );
}

function kubeconfigFiles(connection: KubernetesConnection, options: ConnectOptions): string[] {
  const home = options.env.HOME ?? homedir();
  const expand = (path: string) =>
    path === "~" || path.startsWith("~/")
      ? `${home}${path.slice(1)}`
      : isAbsolute(path)
        ? path
        : resolve(options.baseDir, path);
  if (connection.kubeconfig !== undefined) return [expand(connection.kubeconfig)];
  const fromEnv = (options.env.KUBECONFIG ?? "").split(delimiter).filter((path) => path !== "");
  return fromEnv.length > 0 ? fromEnv.map(expand) : [`${home}/.kube/config`];
}

/** The typed API groups rotator uses, on one connection with one per-request deadline. */
export interface KubernetesClient {
  readonly k8s: KubernetesLibrary;
  readonly server: string;
  readonly source: string;
  readonly core: K8s.CoreV1Api;
  readonly apps: K8s.AppsV1Api;
  readonly authorization: K8s.AuthorizationV1Api;
  readonly custom: K8s.CustomObjectsApi;
  /** Options for a patch call: the body is a JSON merge patch (RFC 7386). */
  readonly mergePatch: K8s.ConfigurationOptions;
}

export async function connectKubernetes(
  connection: KubernetesConnection,
  options: ConnectOptions,
): Promise<KubernetesClient> {
  const k8s = await loadKubernetesLibrary();
  const { kubeConfig, server, source } = await resolveKubeConfig(connection, options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline: K8s.Middleware = {
    pre: async (context) => {
      context.setSignal(AbortSignal.timeout(timeoutMs));
      return context;
    },
    post: async (context) => context,
  };
  const configuration = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [deadline],
  });
  return {
    k8s,
    server,
    source,
    core: new k8s.CoreV1Api(configuration),
    apps: new k8s.AppsV1Api(configuration),
    authorization: new k8s.AuthorizationV1Api(configuration),
    custom: new k8s.CustomObjectsApi(configuration),
    mergePatch: k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
  };
}
