/**
 * "May I?" asked of the API server with SelfSubjectAccessReview: it evaluates the caller's RBAC for one verb on
 * one resource and changes nothing. Preflight asks for everything a run will do, so a missing right stops the run
 * before anything is written, with the Role rule that grants it.
 */
import type { KubernetesClient } from "./client.js";

export interface AccessNeed {
  verb: string;
  /** API group; "" for the core group (Secrets, Pods). */
  group: string;
  resource: string;
  subresource?: string;
  namespace: string;
  /** The object's name, when the right may be limited to it (never for create or list). */
  name?: string;
  /** Why rotator needs it, for the message. */
  why: string;
}

/** The needs the caller lacks; a review the server refuses counts every need as lacking. */
export async function missingAccess(client: KubernetesClient, needs: readonly AccessNeed[]): Promise<AccessNeed[]> {
  const answers = await Promise.all(
    needs.map(async (need) => {
      const review = await client.authorization.createSelfSubjectAccessReview({
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              verb: need.verb,
              group: need.group,
              resource: need.resource,
              namespace: need.namespace,
              ...(need.subresource === undefined ? {} : { subresource: need.subresource }),
              ...(need.name === undefined ? {} : { name: need.name }),
            },
          },
        },
      });
      return review.status?.allowed === true;
    }),
  );
  return needs.filter((_, index) => !answers[index]);
}

/**
 * The least Role rules that grant `needs`, as one line of YAML flow mappings (for an error message): one rule per
 * group, resource and set of names.
 */
export function roleRules(needs: readonly AccessNeed[]): string {
  const rules = new Map<string, { group: string; resource: string; names: string[]; verbs: Set<string> }>();
  for (const need of needs) {
    const resource = need.subresource === undefined ? need.resource : `${need.resource}/${need.subresource}`;
    const names = need.name === undefined ? [] : [need.name];
    const key = `${need.group}|${resource}|${names.join(",")}`;
    const rule = rules.get(key) ?? { group: need.group, resource, names, verbs: new Set<string>() };
    rule.verbs.add(need.verb);
    rules.set(key, rule);
  }
  return [...rules.values()]
    .map(
      (rule) =>
        `{ apiGroups: ["${rule.group}"], resources: ["${rule.resource}"]` +
        (rule.names.length > 0 ? `, resourceNames: [${rule.names.map((n) => `"${n}"`).join(", ")}]` : "") +
        `, verbs: [${[...rule.verbs].map((v) => `"${v}"`).join(", ")}] }`,
    )
    .join(", ");
}

/** "get, update on secrets "twilio" (to ...)": what is missing, for people. */
export function describeNeeds(needs: readonly AccessNeed[]): string {
  return needs
    .map((need) => {
      const resource = need.subresource === undefined ? need.resource : `${need.resource}/${need.subresource}`;
      const group = need.group === "" ? "" : `.${need.group}`;
      return `"${need.verb}" on ${resource}${group}${need.name === undefined ? "" : ` "${need.name}"`} (to ${need.why})`;
    })
    .join(", ");
}
