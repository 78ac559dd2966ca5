import { defineProvider } from "../definition.js";
import { kubernetesSecretConfigSchema } from "./schema.js";

export const kubernetesSecret = defineProvider({
  type: "kubernetes-secret",
  configSchema: kubernetesSecretConfigSchema,
  summary:
    "Keys of a Kubernetes Secret, written conditionally on the resourceVersion preflight read (or, with syncedFrom, a Secret another system fills, waited for).",
  packages: ["@kubernetes/client-node"],
  // The Kubernetes client loads only when a config names this type.
  load: async () => {
    const { KubernetesSecretProvider } = await import("./provider.js");
    return (config, environment) => new KubernetesSecretProvider(config, environment);
  },
});
