import * as batchV1 from "kubernetes-models/batch/v1";
import * as coreV1 from "kubernetes-models/v1";
import type { INode } from "kubernetes-models/v1/Node";
import { describe, expect, it } from "vitest";
import { InputError } from "../src/errors.js";
import { buildGangObjects, MASTER_PORT } from "../src/runtime/kubernetes/gang-manifests.js";
import {
  DEFAULT_GPU_PRODUCTS,
  gpuTypeOfProduct,
  parseGpuProducts,
} from "../src/runtime/kubernetes/gpu-products.js";
import { dnsLabel, unitName } from "../src/runtime/kubernetes/names.js";
import { inventoryFromNodes, parseQuantity } from "../src/runtime/kubernetes/node-inventory.js";
import type { ManifestContext } from "../src/runtime/kubernetes/pod-template.js";
import { buildWorkspaceObjects } from "../src/runtime/kubernetes/workspace-manifests.js";
import type { ReplicaSpec } from "../src/runtime/runtime.js";
import { excessFieldErrors } from "./support/excess-fields.js";
import type { KubeObject } from "./support/manifests.js";

// Every generated object is validated against the OpenAPI schemas compiled into kubernetes-models 4.5.1
// (Kubernetes 1.33), and checked for unknown fields with TypeScript's excess-property check.
type ModelClass = new (data: unknown) => { validate(): void };
const MODELS: Record<string, Record<string, unknown>> = { v1: coreV1, "batch/v1": batchV1 };
const REPO = new URL("..", import.meta.url).pathname;

function schemaErrors(objects: unknown[]): string[] {
  const errors: string[] = [];
  for (const o of objects as KubeObject[]) {
    const Model = MODELS[o.apiVersion]?.[o.kind] as ModelClass | undefined;
    if (!Model) errors.push(`no schema for ${o.apiVersion} ${o.kind}`);
    else {
      try {
        new Model(o).validate();
      } catch (err) {
        errors.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
      }
    }
  }
  generated.push(...(objects.filter(Boolean) as KubeObject[]));
  return errors;
}

/** Every object schemaErrors saw, for one (slow) excess-property compile at the end. */
const generated: KubeObject[] = [];

const TOKEN = "mlops_tok_abc.123";
const context: ManifestContext = {
  namespace: "mlops",
  workloadImage: "ghcr.io/mlops-platform/workload:1",
  apiUrl: "http://mlops-control-plane.mlops.svc:8080",
  gpuProducts: DEFAULT_GPU_PRODUCTS,
  kueue: true,
};

function gang(nodes: number, perNode: number, overrides: Partial<ReplicaSpec> = {}): ReplicaSpec[] {
  const world = nodes * perNode;
  return Array.from({ length: world }, (_, r) => ({
    jobId: "job_7f3a",
    attempt: 1,
    replicaIndex: r,
    command: ["python", "train.py", "--epochs", "3"],
    env: { MLOPS_TOKEN: TOKEN, MLOPS_API_URL: "http://cp:8080", MLOPS_REPLICA_INDEX: String(r), LR: "0.1" },
    maskInLogs: [TOKEN],
    codeDigest: "a".repeat(64),
    resources: { cpu: 4, memoryMiB: 16384, gpus: 2, gpuType: "h100" },
    rank: {
      rank: r,
      localRank: r % perNode,
      nodeRank: Math.floor(r / perNode),
      worldSize: world,
      localWorldSize: perNode,
      nodes,
    },
    timeoutSeconds: 3600.5,
    graceMs: 45_000,
    ...overrides,
  }));
}

function envOf(
  container: { env?: Array<{ name: string; value?: string }> } | undefined,
): Record<string, string> {
  return Object.fromEntries(
    (container?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
  );
}

describe("Kubernetes gang objects (Indexed Job, headless Service, Secret)", () => {
  const objects = buildGangObjects(gang(2, 2), context);
  const job = objects.job;
  const pod = job.spec!.template.spec!;
  const main = pod.containers[0];

  it("validates every object against the Kubernetes 1.33 schemas, with no unknown fields", () => {
    expect(schemaErrors([objects.job, objects.service, objects.secret])).toEqual([]);
  });

  it("runs one Pod per node with parallelism = completions = nodes, no Pod retries, the timeout as deadline", () => {
    expect(job.spec).toMatchObject({
      completionMode: "Indexed",
      completions: 2,
      parallelism: 2,
      backoffLimit: 0,
    });
    expect(job.spec!.activeDeadlineSeconds).toBe(3601);
    expect(job.spec!.podFailurePolicy).toBeUndefined();
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.terminationGracePeriodSeconds).toBe(45);
    expect(objects.replicas).toEqual([0, 1, 2, 3]);
  });

  it("gives the ranks the Kubeflow/torchrun environment with rank 0's DNS name behind the headless Service", () => {
    const env = envOf(main);
    const master = `${objects.unit}-0.${objects.unit}.mlops.svc`;
    expect(env).toMatchObject({
      PET_NNODES: "2",
      PET_NPROC_PER_NODE: "2",
      PET_MASTER_ADDR: master,
      PET_MASTER_PORT: String(MASTER_PORT),
      MLOPS_RANKS_PER_POD: "2",
      MLOPS_GPUS_PER_RANK: "2",
      MLOPS_TORCHRUN: "1",
      MLOPS_REPLICA_VALUED: "MLOPS_REPLICA_INDEX",
      LR: "0.1",
      HOME: "/mlops/work",
      MLOPS_WORK_DIR: "/mlops/work",
    });
    const nodeRank = main.env!.find((e) => e.name === "PET_NODE_RANK");
    expect(nodeRank?.valueFrom?.fieldRef?.fieldPath).toBe(
      "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    );
    expect(pod.subdomain).toBe(objects.unit);
    expect(objects.service.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
    expect(objects.service.spec!.selector).toEqual({ "mlops.dev/unit": objects.unit });
    expect(main.command!.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(main.command!.slice(-4)).toEqual(["python", "train.py", "--epochs", "3"]);
  });

  it("keeps the token out of the Job: a Secret, referenced by key, also by the code-fetching init container", () => {
    expect(JSON.stringify(job)).not.toContain(TOKEN);
    expect(objects.secret!.stringData).toMatchObject({ MLOPS_TOKEN: TOKEN });
    expect(objects.secret!.stringData!.MLOPS_LOG_SED).toContain("mlops_tok_abc\\.123");
    const ref = main.env!.find((e) => e.name === "MLOPS_TOKEN")?.valueFrom?.secretKeyRef;
    expect(ref).toEqual({ name: `${objects.unit}-env`, key: "MLOPS_TOKEN" });
    const init = pod.initContainers![0];
    expect(init.image).toBe(context.workloadImage);
    expect(envOf(init)).toMatchObject({ MLOPS_CODE_DIGEST: "a".repeat(64), MLOPS_API_URL: "http://cp:8080" });
    expect(init.env!.find((e) => e.name === "MLOPS_TOKEN")?.valueFrom?.secretKeyRef?.key).toBe("MLOPS_TOKEN");
  });

  it("asks for the node's GPUs, the GPU product by node affinity, tolerates the GPU taint", () => {
    expect(main.resources).toEqual({
      requests: { cpu: "8000m", memory: "32768Mi", "nvidia.com/gpu": "4" },
      limits: { memory: "32768Mi", "nvidia.com/gpu": "4" },
    });
    const term =
      pod.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0];
    expect(term.matchExpressions).toEqual([
      { key: "nvidia.com/gpu.product", operator: "In", values: DEFAULT_GPU_PRODUCTS.h100.products },
    ]);
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
  });

  it("follows the cluster's conventions: workload label, ServiceAccount without token, restricted security", () => {
    expect(job.spec!.template.metadata!.labels).toMatchObject({ "app.kubernetes.io/component": "workload" });
    expect(pod.serviceAccountName).toBe("mlops-workload");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const c of [main, ...pod.initContainers!]) {
      expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    }
  });

  it("queues on Kueue when it is there (label + suspended), starts at once when not", () => {
    expect(job.metadata!.labels!["kueue.x-k8s.io/queue-name"]).toBe("gpu-h100-80gb");
    expect(job.spec!.suspend).toBe(true);
    const plain = buildGangObjects(gang(2, 2), { ...context, kueue: false }).job;
    expect(plain.metadata!.labels!["kueue.x-k8s.io/queue-name"]).toBeUndefined();
    expect(plain.spec!.suspend).toBe(false);
    const cpuOnly = buildGangObjects(gang(1, 1, { resources: { cpu: 1, memoryMiB: 512, gpus: 0 } }), context);
    expect(cpuOnly.job.spec!.suspend).toBe(false);
    expect(cpuOnly.job.spec!.template.spec!.tolerations).toBeUndefined();
    expect(schemaErrors([cpuOnly.job])).toEqual([]);
  });

  it("builds a single replica without a rank as a Job of one Pod (batch prediction), without torchrun names", () => {
    const [spec] = gang(1, 1, {
      rank: undefined,
      codeDigest: undefined,
      image: "ghcr.io/mlops-platform/control-plane:1",
    });
    const single = buildGangObjects(
      [{ ...spec, replicaIndex: 3, command: ["node", "bin/mlops.js", "batch", "worker"] }],
      context,
    );
    const container = single.job.spec!.template.spec!.containers[0];
    expect(single.job.spec!.completions).toBe(1);
    expect(container.image).toBe("ghcr.io/mlops-platform/control-plane:1");
    expect(envOf(container)).toMatchObject({ MLOPS_TORCHRUN: "0", MLOPS_FIRST_REPLICA: "3" });
    expect(envOf(container).PET_MASTER_ADDR).toBeUndefined();
    expect(single.job.spec!.template.spec!.initContainers).toBeUndefined();
    expect(schemaErrors([single.job, single.service, single.secret])).toEqual([]);
  });

  it("keeps a job's work dir on a PVC shared by its attempts when a size is configured (RWX across nodes)", () => {
    const withClaim = buildGangObjects(gang(2, 2), { ...context, workVolumeSize: "50Gi" });
    expect(schemaErrors([withClaim.workClaim])).toEqual([]);
    expect(withClaim.workClaim!.metadata!.name).toBe(
      "mlops-work-job-7f3a-" + withClaim.workClaim!.metadata!.name!.slice(-8),
    );
    expect(withClaim.workClaim!.spec).toEqual({
      accessModes: ["ReadWriteMany"],
      resources: { requests: { storage: "50Gi" } },
    });
    const volume = withClaim.job.spec!.template.spec!.volumes!.find((v) => v.name === "work");
    expect(volume).toEqual({
      name: "work",
      persistentVolumeClaim: { claimName: withClaim.workClaim!.metadata!.name },
    });
    const single = buildGangObjects(gang(1, 2), { ...context, workVolumeSize: "50Gi" });
    expect(single.workClaim!.spec!.accessModes).toEqual(["ReadWriteOnce"]);
    expect(objects.workClaim).toBeNull();
    expect(pod.volumes!.find((v) => v.name === "work")).toEqual({ name: "work", emptyDir: {} });
  });

  it("refuses what it cannot express, with a clear error", () => {
    const shuffled = gang(2, 2).map((s) => ({ ...s, rank: { ...s.rank!, nodeRank: s.replicaIndex % 2 } }));
    expect(() => buildGangObjects(shuffled, context)).toThrow(/not node-major/);
    const differing = gang(1, 2).map((s, i) => ({ ...s, env: { ...s.env, SEED: String(i * 7 + 1) } }));
    expect(() => buildGangObjects(differing, context)).toThrow(/SEED differs/);
    expect(() =>
      buildGangObjects(
        gang(1, 1, { resources: { cpu: 1, memoryMiB: 1, gpus: 1, gpuType: "tpu9" } }),
        context,
      ),
    ).toThrow(InputError);
    expect(() =>
      buildGangObjects(gang(1, 1, { codeDigest: "b".repeat(64), env: {}, maskInLogs: [] }), context),
    ).toThrow(/needs its token/);
    expect(() => buildGangObjects(gang(2, 1).slice(1), context)).toThrow(/not a gang/);
  });
});

describe("Kubernetes workspace objects (Pod, PVC, Service)", () => {
  const spec: ReplicaSpec = {
    jobId: "ws_dev1",
    attempt: 0,
    replicaIndex: 0,
    kind: "workspace",
    command: ["/usr/sbin/sshd", "-D", "-e"],
    env: { MLOPS_TOKEN: TOKEN },
    maskInLogs: [TOKEN],
    resources: { cpu: 2, memoryMiB: 8192, gpus: 1, gpuType: "l4" },
    ports: [{ name: "ssh" }],
    volumes: [{ name: "ws-dev1-home", mountPath: "/home/ada" }],
    user: { name: "ada", home: "/home/ada" },
    timeoutSeconds: null,
  };

  it("validates the Pod, Service, PVC and Secret; the home survives as a PVC; SSH via NodePort or LoadBalancer", () => {
    const objects = buildWorkspaceObjects(spec, context, { serviceType: "NodePort", volumeSize: "20Gi" });
    expect(schemaErrors([objects.pod, objects.service, objects.secret, ...objects.claims])).toEqual([]);
    const container = objects.pod.spec!.containers[0];
    expect(envOf(container)).toMatchObject({ HOME: "/home/ada", USER: "ada", MLOPS_PORT_SSH: "2222" });
    expect(container.ports).toEqual([{ name: "ssh", containerPort: 2222 }]);
    expect(container.volumeMounts).toContainEqual({ name: "vol-ws-dev1-home", mountPath: "/home/ada" });
    expect(objects.claims[0].metadata!.name).toBe("mlops-vol-ws-dev1-home");
    expect(objects.claims[0].spec!.resources!.requests!.storage).toBe("20Gi");
    expect(objects.service!.spec).toMatchObject({
      type: "NodePort",
      ports: [{ name: "ssh", port: 2222, targetPort: 2222 }],
    });
    expect(objects.pod.spec!.activeDeadlineSeconds).toBeUndefined();
    const lb = buildWorkspaceObjects(spec, context, { serviceType: "LoadBalancer", volumeSize: "5Gi" });
    expect(lb.service!.spec!.type).toBe("LoadBalancer");
    expect(() =>
      buildWorkspaceObjects({ ...spec, volumes: [{ name: "../x", mountPath: "/h" }] }, context, lb as never),
    ).toThrow(InputError);
  });
});

describe("unknown fields", () => {
  it("has none in any generated object (and the check does catch one)", () => {
    expect(generated.length).toBeGreaterThanOrEqual(11);
    const wrong = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "wrong" },
      spec: { clusterIp: "None" },
    };
    const errors = excessFieldErrors([...generated, wrong], REPO);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("clusterIp");
  });
});

describe("names, GPU products, inventory", () => {
  it("makes DNS-safe unit names that leave room for `-<index>` hostnames", () => {
    const long = unitName("Job_With.Odd_Chars_and_a_very_long_identifier_0123456789", 12, 3);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    expect(long.length).toBeLessThanOrEqual(52);
    expect(long.endsWith("-a12-r3")).toBe(true);
    expect(unitName("Job_With.Odd", 0, 0)).not.toBe(unitName("job-with-odd", 0, 0));
    expect(dnsLabel("abc", 10)).toBe("abc");
  });

  it("maps GFD products to types, and reads operator overrides", () => {
    expect(gpuTypeOfProduct("NVIDIA-H100-80GB-HBM3", DEFAULT_GPU_PRODUCTS)).toBe("h100");
    expect(gpuTypeOfProduct("NVIDIA-RTX-A6000", DEFAULT_GPU_PRODUCTS)).toBe("a6000");
    const table = parseGpuProducts(
      "h100=NVIDIA-H100-SXM5-94GB|NVIDIA-H100-80GB-HBM3@gpu-h100,mi300=AMD-MI300X",
    );
    expect(table.h100).toEqual({
      products: ["NVIDIA-H100-SXM5-94GB", "NVIDIA-H100-80GB-HBM3"],
      queue: "gpu-h100",
    });
    expect(table.mi300.queue).toBe("gpu-mi300");
    expect(table.l4).toEqual(DEFAULT_GPU_PRODUCTS.l4);
    expect(() => parseGpuProducts("h100")).toThrow(/type=Product/);
    expect(() => parseGpuProducts("h100=bad product")).toThrow(/not a valid label value/);
  });

  it("turns schedulable nodes with allocatable nvidia.com/gpu into the platform's inventory", () => {
    const node = (
      name: string,
      labels: Record<string, string>,
      allocatable: Record<string, string>,
      ready = true,
    ): INode => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name, labels },
      status: { allocatable, conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
    });
    const inventory = inventoryFromNodes(
      [
        node(
          "h1",
          { "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3" },
          { cpu: "207900m", memory: "1843200Mi", "nvidia.com/gpu": "8" },
        ),
        node("cpu1", {}, { cpu: "8", memory: "33554432Ki" }),
        node(
          "down",
          { "nvidia.com/gpu.product": "NVIDIA-L4" },
          { cpu: "8", memory: "32Gi", "nvidia.com/gpu": "1" },
          false,
        ),
      ],
      DEFAULT_GPU_PRODUCTS,
    );
    expect(inventory.source).toBe("detected");
    expect(inventory.nodes.map((n) => [n.id, n.cpu, n.memoryMiB, n.gpus.length])).toEqual([
      ["h1", 207.9, 1843200, 8],
      ["cpu1", 8, 32768, 0],
    ]);
    expect(inventory.nodes[0].gpus[7]).toMatchObject({ uuid: "K8S-h1-7", type: "h100", simulated: false });
    expect(parseQuantity("1.5Gi")).toBe(1.5 * 1024 ** 3);
    expect(parseQuantity("12x")).toBeNaN();
  });
});
