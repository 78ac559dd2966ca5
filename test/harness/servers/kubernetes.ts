/**
 * A real Kubernetes control plane for the integration tests: etcd, kube-apiserver and kube-controller-manager
 * (so Deployments make ReplicaSets and Pods, namespaces get their `default` ServiceAccount), built by
 * scripts/servers/install.sh into a cache outside the checkout (its stamps say where). No scheduler and no
 * kubelet: tests play the kubelet (test/harness/kubelet.ts).
 *
 * Per handle: a CA and a serving certificate for 127.0.0.1 (openssl), a service-account signing key (so
 * TokenRequest works and tests can act as a ServiceAccount bound to a Role: real RBAC), a random admin token
 * in group system:masters, an etcd data directory, and a kubeconfig file naming the admin. All of it is made at
 * the first launch and kept across stopOne()/startOne(), as the cluster's data is: unlike the in-memory servers,
 * a restarted API server still holds every object written before.
 *
 * Flags that matter on loopback (see the project's notes): --endpoint-reconciler-type none (the reconciler
 * refuses a loopback advertise address), a service IP range, and --unsafe-no-fsync for etcd (tests never crash
 * the disk).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import {
  CACHE_DIR,
  HOST,
  launch,
  readStamp,
  type ServerDefinition,
  type ServerInstance,
  waitReady,
} from "./process.js";

export interface KubernetesEndpoints {
  /** https://127.0.0.1:<port>, serving a certificate signed by `caPem`. */
  server: string;
  /** A bearer token of user `rotator-test-admin` in group system:masters. */
  token: string;
  caPem: string;
  caFile: string;
  /** A kubeconfig file whose current context is that admin on this server. */
  kubeconfig: string;
}

const READY_TIMEOUT_MS = 90_000;
const ADMIN_USER = "rotator-test-admin";

/** The API server on `main`, etcd's client and peer listeners on `second` and `third`. */
export const kubernetesServer: ServerDefinition<KubernetesEndpoints> = {
  name: "kubernetes",
  summary: "etcd, kube-apiserver and kube-controller-manager (HTTPS, its own CA)",
  neededBy: ["kubernetes-secret", "kubernetes consumers"],
  portCount: 3,
  create,
};

function create(): ServerInstance<KubernetesEndpoints> {
  const adminToken = `k8s${randomBytes(24).toString("hex")}`;
  let dir: string | undefined;
  const file = (name: string) => join(dir ?? "", name);

  const prepare = (apiPort: number): void => {
    if (dir !== undefined) return;
    mkdirSync(join(CACHE_DIR, "kubernetes"), { recursive: true });
    dir = mkdtempSync(join(CACHE_DIR, "kubernetes", "run-"));
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    // RSA: kube-apiserver's service-account and serving code take it everywhere; two days outlive any test run.
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      "/CN=rotator-test-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
    writeFileSync(
      file("serving.cnf"),
      [
        "[req]",
        "distinguished_name = dn",
        "prompt = no",
        "[dn]",
        "CN = kube-apiserver",
        "[ext]",
        "subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc",
        "extendedKeyUsage = serverAuth",
        "",
      ].join("\n"),
    );
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "serving.key",
      "-out",
      "serving.csr",
      "-config",
      "serving.cnf",
    );
    openssl(
      "x509",
      "-req",
      "-in",
      "serving.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "serving.pem",
      "-days",
      "2",
      "-extfile",
      "serving.cnf",
      "-extensions",
      "ext",
    );
    openssl("genrsa", "-out", "sa.key", "2048");
    openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
    writeFileSync(file("tokens.csv"), `${adminToken},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
    writeFileSync(file("kubeconfig"), kubeconfigFor(`https://${HOST}:${apiPort}`, file("ca.pem"), adminToken), {
      mode: 0o600,
    });
    mkdirSync(file("etcd"), { recursive: true, mode: 0o700 });
  };

  return {
    dispose() {
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    },
    launch({ main, second, third }) {
      if (second === undefined || third === undefined) throw new Error("kubernetes needs three ports");
      prepare(main);
      const k8sBin = readStamp("kubernetes-bin");
      const etcdBin = readStamp("etcd-bin");
      const etcd = launch("kubernetes-etcd", second, join(etcdBin, "etcd"), [
        `--data-dir=${file("etcd")}`,
        "--name=default",
        `--listen-client-urls=http://${HOST}:${second}`,
        `--advertise-client-urls=http://${HOST}:${second}`,
        `--listen-peer-urls=http://${HOST}:${third}`,
        `--initial-advertise-peer-urls=http://${HOST}:${third}`,
        `--initial-cluster=default=http://${HOST}:${third}`,
        "--unsafe-no-fsync",
        "--log-level=warn",
      ]);
      const controllerManager = launch("kubernetes-controller-manager", main, join(k8sBin, "kube-controller-manager"), [
        `--kubeconfig=${file("kubeconfig")}`,
        "--leader-elect=false",
        "--use-service-account-credentials=false",
        `--service-account-private-key-file=${file("sa.key")}`,
        `--root-ca-file=${file("ca.pem")}`,
        "--secure-port=0",
        // No nodes, volumes or autoscaling here; the rest keeps Deployments, StatefulSets, DaemonSets, garbage
        // collection and each namespace's default ServiceAccount working.
        "--controllers=*,-node-ipam-controller,-node-lifecycle-controller,-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller,-ttl-controller,-horizontal-pod-autoscaler-controller",
        "--concurrent-deployment-syncs=2",
        "--v=1",
      ]);
      return launch(
        "kubernetes-apiserver",
        main,
        join(k8sBin, "kube-apiserver"),
        [
          `--etcd-servers=http://${HOST}:${second}`,
          `--bind-address=${HOST}`,
          `--advertise-address=${HOST}`,
          `--secure-port=${main}`,
          `--tls-cert-file=${file("serving.pem")}`,
          `--tls-private-key-file=${file("serving.key")}`,
          `--client-ca-file=${file("ca.pem")}`,
          `--token-auth-file=${file("tokens.csv")}`,
          "--authorization-mode=RBAC",
          "--service-account-issuer=https://kubernetes.default.svc",
          `--service-account-key-file=${file("sa.pub")}`,
          `--service-account-signing-key-file=${file("sa.key")}`,
          "--service-cluster-ip-range=10.0.0.0/24",
          "--endpoint-reconciler-type=none",
          "--enable-priority-and-fairness=false",
          "--profiling=false",
          "--v=1",
        ],
        {},
        { companions: [controllerManager, etcd] },
      );
    },
    ready({ main }, started) {
      const ca = readFileSync(file("ca.pem"));
      return waitReady(
        "kubernetes",
        started,
        // The default ServiceAccount proves the controller-manager is at work too (no Pod is admitted without it).
        async () =>
          (await getStatus(`https://${HOST}:${main}/readyz`, adminToken, ca)) === 200 &&
          (await getStatus(
            `https://${HOST}:${main}/api/v1/namespaces/default/serviceaccounts/default`,
            adminToken,
            ca,
          )) === 200,
        READY_TIMEOUT_MS,
        100,
      );
    },
    async endpoints({ main }) {
      return {
        server: `https://${HOST}:${main}`,
        token: adminToken,
        caPem: readFileSync(file("ca.pem"), "utf8"),
        caFile: file("ca.pem"),
        kubeconfig: file("kubeconfig"),
      };
    },
  };
}

/** A kubeconfig with one cluster, one user (a bearer token) and one context, all named "test". */
export function kubeconfigFor(server: string, caFile: string, token: string, namespace?: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "certificate-authority": caFile } }],
    users: [{ name: "test", user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "test", ...(namespace ? { namespace } : {}) } }],
    "current-context": "test",
  });
}

function getStatus(url: string, token: string, ca: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, ca, timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}
