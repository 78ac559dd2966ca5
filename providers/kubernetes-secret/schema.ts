import * as z from "zod";
import { connectionFields, namespaceName, objectName, refineConnection } from "../../src/kubernetes-client/schema.js";
import { storeEntryBase, storeName } from "../schema-parts.js";
import { storeFieldNames, uniqueFieldNames } from "../toolkit.js";

/** What the API server accepts as a key of a Secret's data. */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const kubernetesSecretConfigSchema = z
  .strictObject({
    ...storeEntryBase,
    type: z.literal("kubernetes-secret"),
    namespace: namespaceName.describe("The Secret's namespace."),
    secretName: objectName("Secret").describe("The Secret's name."),
    ...connectionFields,
    syncedFrom: storeName
      .optional()
      .describe(
        "Another system fills this Secret from that store of this config (External Secrets Operator, a CSI " +
          "driver's sync): rotator never writes it, asks for a refresh, and waits until it holds the new " +
          "credential before checking consumers (and the old one again on rollback).",
      ),
    syncTimeoutSeconds: z
      .number()
      .min(0)
      .max(86_400)
      .default(300)
      .describe("With syncedFrom: how long the Secret may take to follow its source (default 300 s)."),
  })
  .superRefine((entry, context) => {
    // Pods usually take the Secret as environment variables: the dotenv names are the defaults.
    uniqueFieldNames(entry, "dotenv", context, "key");
    for (const [field, key] of storeFieldNames("dotenv", entry.fields)) {
      if (!SECRET_KEY.test(key) || key.length > 253) {
        context.addIssue({
          code: "custom",
          path: ["fields", field],
          message: "must be a key a Secret's data may have: letters, digits, '-', '_' and '.', at most 253 characters",
        });
      }
    }
    refineConnection(entry, context);
    if (entry.syncedFrom === entry.name) {
      context.addIssue({ code: "custom", path: ["syncedFrom"], message: "must name another store, not this one" });
    }
  })
  .describe(
    "Keys of a Kubernetes Secret (the dotenv names by default: TWILIO_ACCOUNT_SID, TWILIO_API_KEY, ...). Written " +
      "with the resourceVersion read in preflight as its condition; other keys are kept; rollback puts the " +
      "previous values back from a backup Secret the run keeps beside it. With syncedFrom, a Secret another " +
      "system fills (External Secrets Operator): rotator waits for it instead of writing it.",
  );

export type KubernetesSecretConfig = z.infer<typeof kubernetesSecretConfigSchema>;
