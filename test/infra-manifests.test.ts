import { existsSync, statSync } from "node:fs";
import path from "node:path";
import * as argoV1alpha1 from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1";
import * as monitoringV1 from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as appsV1 from "kubernetes-models/apps/v1";
import * as networkingV1 from "kubernetes-models/networking.k8s.io/v1";
import * as policyV1 from "kubernetes-models/policy/v1";
import * as rbacV1 from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as coreV1 from "kubernetes-models/v1";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { excessFieldErrors } from "./support/excess-fields.js";
import { kueueProblems } from "./support/kueue-checks.js";
import {
  findObject,
  isKubeObject,
  type KubeObject,
  kustomizeBuild,
  readYamlDocuments,
  yamlFiles,
} from "./support/manifests.js";
import { connectionAllowed, type Endpoint } from "./support/network-policy.js";

// Kubernetes objects are validated against the OpenAPI schemas compiled into `kubernetes-models` 4.5.1
// (a Kubernetes 1.33 API: the last line of releases that supports Node 20), the Prometheus Operator CRDs of `@kubernetes-models/prometheus-operator` 4.4.4 and
// the Argo CD CRDs of `@kubernetes-models/argo-cd` 2.7.2; Kueue objects by hand (test/support/kueue-checks.ts).
// These schemas accept unknown fields; test/support/excess-fields.ts catches those with TypeScript's
// excess-property check against the same packages' interfaces.
const ROOT = path.resolve(import.meta.dirname, "..", "infrastructure");
const K8S = path.join(ROOT, "kubernetes");
const OVERLAYS = ["production"];

type ModelClass = new (data: unknown) => { validate(): void };
// One entry per API group version the manifests use; an object of any other version fails the test.
const SCHEMAS: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  "apps/v1": appsV1,
  "rbac.authorization.k8s.io/v1": rbacV1,
  "networking.k8s.io/v1": networkingV1,
  "policy/v1": policyV1,
  "monitoring.coreos.com/v1": monitoringV1,
  "argoproj.io/v1alpha1": argoV1alpha1,
};

/** null when valid; the validator's message otherwise. */
async function schemaError(o: KubeObject): Promise<string | null> {
  const Model = SCHEMAS[o.apiVersion]?.[o.kind] as ModelClass | undefined;
  if (!Model) return `no schema for ${o.apiVersion} ${o.kind}`;
  try {
    new Model(o).validate();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function validateAll(objects: KubeObject[]): Promise<string[]> {
  const problems = kueueProblems(objects);
  for (const o of objects) {
    if (o.apiVersion.startsWith("kueue.x-k8s.io/")) continue;
    const error = await schemaError(o);
    if (error) problems.push(`${o.kind}/${o.metadata.name}: ${error}`);
  }
  return problems;
}

const kustomizationDirs = yamlFiles(K8S)
  .filter((f) => path.basename(f) === "kustomization.yaml")
  .map((f) => path.dirname(f));
const patchFiles = new Set(
  kustomizationDirs.flatMap((dir) => {
    const k = readYamlDocuments(path.join(dir, "kustomization.yaml"))[0] as {
      patches?: Array<{ path: string }>;
    };
    return (k.patches ?? []).map((p) => path.join(dir, p.path));
  }),
);
const standalone = yamlFiles(K8S)
  .filter((f) => path.basename(f) !== "kustomization.yaml" && !patchFiles.has(f))
  .flatMap((f) => readYamlDocuments(f).filter(isKubeObject));
const production = kustomizeBuild(path.join(K8S, "overlays", "production"));

describe("infrastructure manifests", () => {
  it("parses every YAML document under infrastructure/ and every Kubernetes one names apiVersion and kind", () => {
    const files = yamlFiles(ROOT);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const docs = readYamlDocuments(file);
      if (file.startsWith(K8S)) for (const doc of docs) expect(isKubeObject(doc), file).toBe(true);
    }
  });

  it("validates every stand-alone object against its schema", async () => {
    expect(standalone.length).toBeGreaterThan(15);
    expect(await validateAll(standalone)).toEqual([]);
  });

  it.each(OVERLAYS)("validates every object the %s overlay builds (patches merged)", async (overlay) => {
    const built = kustomizeBuild(path.join(K8S, "overlays", overlay));
    expect(await validateAll(built)).toEqual([]);
    const deployment = findObject<IDeployment>(built, "Deployment", "mlops-control-plane");
    const container = deployment.spec?.template.spec?.containers[0];
    expect(container?.image).toBe("ghcr.io/mlops-platform/control-plane:0.1.0");
    expect(container?.resources?.requests?.cpu).toBe("2");
    expect(container?.readinessProbe?.httpGet?.path).toBe("/readyz"); // the patch kept the base's probes
    expect(
      built.every(
        (o) =>
          o.kind === "ClusterQueue" ||
          o.kind === "ResourceFlavor" ||
          o.kind === "Namespace" ||
          o.metadata.namespace === "mlops",
      ),
    ).toBe(true);
  });

  it("has no unknown fields (TypeScript's excess-property check against the models' interfaces)", () => {
    const repo = path.resolve(ROOT, "..");
    expect(excessFieldErrors([...standalone, ...production], repo)).toEqual([]);
    const deployment = findObject<KubeObject>(production, "Deployment", "mlops-control-plane");
    const misspelled = { ...deployment, spec: { ...(deployment.spec as object), replicass: 2 } };
    expect(excessFieldErrors([misspelled], repo)).toEqual([
      `Deployment/mlops-control-plane: Object literal may only specify known properties, and '"replicass"' does not exist in type 'IDeploymentSpec'.`,
    ]);
  });

  it("rejects broken objects (the validators are live)", async () => {
    const deployment = findObject<KubeObject>(production, "Deployment", "mlops-control-plane");
    const broken = JSON.parse(JSON.stringify(deployment)) as KubeObject;
    (broken.spec as { replicas: unknown }).replicas = "two";
    expect(await schemaError(broken)).toMatch(/replicas must be integer/);
    const monitor = findObject<KubeObject>(production, "ServiceMonitor", "mlops-control-plane");
    expect(await schemaError({ ...monitor, spec: { endpoints: [] } })).toMatch(/selector/);
    const queue = findObject<KubeObject>(production, "LocalQueue", "gpu-l4");
    expect(kueueProblems([{ ...queue, spec: { clusterQueue: "nope" } }])).toEqual([
      "LocalQueue/gpu-l4: unknown clusterQueue",
    ]);
  });

  it("runs the control plane as two non-root replicas with probes and the database URL from a Secret", () => {
    const d = findObject<IDeployment>(production, "Deployment", "mlops-control-plane");
    const pod = d.spec?.template.spec;
    const c = pod?.containers[0];
    expect(d.spec?.replicas).toBe(2);
    expect(pod?.securityContext?.runAsNonRoot).toBe(true);
    expect(c?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(c?.securityContext?.capabilities?.drop).toEqual(["ALL"]);
    expect(c?.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(c?.resources?.limits?.memory).toBeDefined();
    const db = c?.env?.find((e) => e.name === "DATABASE_URL");
    expect(db?.value).toBeUndefined();
    expect(db?.valueFrom?.secretKeyRef?.name).toBe("mlops-database");
    const pdb = findObject<KubeObject>(production, "PodDisruptionBudget", "mlops-control-plane");
    expect(pdb.spec).toMatchObject({ minAvailable: 1 });
  });

  it("gives the runtime a namespaced least-privilege Role and workloads no API token", () => {
    expect(production.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toEqual([]);
    const role = findObject<IRole>(production, "Role", "mlops-runtime");
    const granted = (role.rules ?? []).flatMap((r) =>
      (r.resources ?? []).flatMap((res) => (r.verbs ?? []).map((v) => `${r.apiGroups?.[0]}/${res}:${v}`)),
    );
    for (const g of granted) expect(g).not.toContain("*");
    const resources = new Set((role.rules ?? []).flatMap((r) => r.resources ?? []));
    expect([...resources].sort()).toEqual([
      "jobs",
      "persistentvolumeclaims",
      "pods",
      "pods/log",
      "secrets",
      "services",
    ]);
    expect(granted).not.toContain("/pods/exec:create");
    // Job tokens go into per-job Secrets the runtime creates; it can never read or list one.
    expect(granted.filter((g) => g.includes("secrets"))).toEqual(["/secrets:create"]);
    const workload = findObject<IServiceAccount>(production, "ServiceAccount", "mlops-workload");
    expect(workload.automountServiceAccountToken).toBe(false);
  });

  describe("network policies", () => {
    const policies = production.filter((o) => o.kind === "NetworkPolicy") as unknown as INetworkPolicy[];
    const workload: Endpoint = { labels: { "app.kubernetes.io/component": "workload" }, ip: "10.8.3.7" };
    const peer: Endpoint = { labels: { "app.kubernetes.io/component": "workload" }, ip: "10.8.4.9" };
    const controlPlane: Endpoint = {
      labels: { "app.kubernetes.io/component": "control-plane" },
      ip: "10.8.1.2",
    };
    const inClusterDb: Endpoint = { labels: { "app.kubernetes.io/name": "postgresql" }, ip: "10.8.2.5" };
    const managedDb: Endpoint = { ip: "10.20.0.5" };
    const dns: Endpoint = {
      labels: { "k8s-app": "kube-dns" },
      namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" },
      ip: "10.8.0.10",
    };

    it("keeps workload Pods away from the database, the metadata service and private addresses", () => {
      expect(connectionAllowed(policies, workload, managedDb, 5432)).toBe(false);
      expect(connectionAllowed(policies, workload, inClusterDb, 5432)).toBe(false);
      expect(connectionAllowed(policies, workload, { ip: "169.254.169.254" }, 80)).toBe(false);
      expect(connectionAllowed(policies, workload, { ip: "172.20.1.1" }, 443)).toBe(false);
      expect(connectionAllowed(policies, workload, controlPlane, 5432)).toBe(false);
    });

    it("lets workloads reach the control plane, DNS, their peers and the internet", () => {
      expect(connectionAllowed(policies, workload, controlPlane, 8080)).toBe(true);
      expect(connectionAllowed(policies, workload, dns, 53)).toBe(true);
      expect(connectionAllowed(policies, workload, peer, 29500)).toBe(true);
      expect(connectionAllowed(policies, workload, { ip: "151.101.0.223" }, 443)).toBe(true);
    });

    it("lets clients reach the control plane and only the control plane reach the database", () => {
      expect(connectionAllowed(policies, { ip: "203.0.113.9" }, controlPlane, 8080)).toBe(true);
      expect(connectionAllowed(policies, controlPlane, inClusterDb, 5432)).toBe(true);
      expect(connectionAllowed(policies, controlPlane, managedDb, 5432)).toBe(true);
      expect(
        connectionAllowed(policies, { labels: { app: "other" }, ip: "10.8.9.9" }, inClusterDb, 5432),
      ).toBe(false);
    });
  });

  it("has a ResourceFlavor, ClusterQueue and LocalQueue per GPU product", () => {
    const flavors = production.filter((o) => o.kind === "ResourceFlavor");
    expect(flavors.length).toBeGreaterThanOrEqual(2);
    for (const f of flavors) {
      const product = (f.spec as { nodeLabels: Record<string, string> }).nodeLabels["nvidia.com/gpu.product"];
      expect(product).toMatch(/^NVIDIA-/);
      const queues = production.filter(
        (o) => o.kind === "ClusterQueue" && JSON.stringify(o.spec).includes(`"name":"${f.metadata.name}"`),
      );
      expect(queues.length, f.metadata.name).toBe(1);
      const local = production.filter(
        (o) =>
          o.kind === "LocalQueue" &&
          (o.spec as { clusterQueue: string }).clusterQueue === queues[0]?.metadata.name,
      );
      expect(local.length, f.metadata.name).toBe(1);
    }
  });

  it("points the ArgoCD Application at an existing overlay", () => {
    const app = findObject<KubeObject>(standalone, "Application", "mlops-platform");
    const source = (app.spec as { source: { path: string } }).source;
    const dir = path.resolve(ROOT, "..", source.path);
    expect(existsSync(path.join(dir, "kustomization.yaml")) && statSync(dir).isDirectory()).toBe(true);
  });
});
