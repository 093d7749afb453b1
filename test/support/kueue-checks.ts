import type { KubeObject } from "./manifests.js";

/**
 * Kueue objects are checked by hand: no Kueue models are published on npm and the CRD schemas are not
 * vendored, so these are the fields `kueue.x-k8s.io/v1beta1` requires and the references between them
 * (infrastructure/kubernetes/README.md, "What is validated").
 */
type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export function kueueProblems(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  const kueue = objects.filter((o) => o.apiVersion.startsWith("kueue.x-k8s.io/"));
  const names = (kind: string) => new Set(kueue.filter((o) => o.kind === kind).map((o) => o.metadata.name));
  const flavors = names("ResourceFlavor");
  const clusterQueues = names("ClusterQueue");
  for (const o of kueue) {
    const where = `${o.kind}/${o.metadata.name}`;
    const spec = obj(o.spec);
    if (o.apiVersion !== "kueue.x-k8s.io/v1beta1") problems.push(`${where}: apiVersion ${o.apiVersion}`);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.metadata.name)) problems.push(`${where}: bad name`);
    if (o.kind === "ResourceFlavor") {
      const labels = obj(spec.nodeLabels);
      if (typeof labels["nvidia.com/gpu.product"] !== "string")
        problems.push(`${where}: no gpu.product label`);
    } else if (o.kind === "ClusterQueue") {
      const groups = arr(spec.resourceGroups);
      if (groups.length === 0) problems.push(`${where}: no resourceGroups`);
      for (const g of groups.map(obj)) {
        const covered = arr(g.coveredResources);
        for (const f of arr(g.flavors).map(obj)) {
          if (!flavors.has(String(f.name))) problems.push(`${where}: unknown flavor ${String(f.name)}`);
          const resources = arr(f.resources).map(obj);
          const listed = resources.map((r) => r.name);
          if (JSON.stringify(listed) !== JSON.stringify(covered)) {
            problems.push(`${where}: flavor ${String(f.name)} must list exactly ${covered.join(",")}`);
          }
          for (const r of resources) {
            if (!/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$/.test(String(r.nominalQuota))) {
              problems.push(`${where}: bad nominalQuota for ${String(r.name)}`);
            }
          }
        }
      }
    } else if (o.kind === "LocalQueue") {
      if (!o.metadata.namespace) problems.push(`${where}: LocalQueue must be namespaced`);
      if (!clusterQueues.has(String(spec.clusterQueue))) problems.push(`${where}: unknown clusterQueue`);
    } else {
      problems.push(`${where}: unexpected Kueue kind`);
    }
  }
  return problems;
}
