import { afterEach, describe, expect, it } from "vitest";
import { ConfigSchema } from "../src/config.js";
import { createKubernetesBackendOn } from "../src/runtime/kubernetes/kubernetes-backend.js";
import { KubernetesRuntime } from "../src/runtime/kubernetes/kubernetes-runtime.js";
import type { IJob } from "../src/runtime/kubernetes/kube-api.js";
import { DEFAULT_GPU_PRODUCTS } from "../src/runtime/kubernetes/gpu-products.js";
import type { ReplicaSpec, Runtime } from "../src/runtime/runtime.js";
import { FakeKubeApi } from "./support/fake-kube-api.js";
import { Value } from "@sinclair/typebox/value";
import type { ArtifactStore } from "../src/artifacts/artifact-store.js";

// The Kubernetes runtime against a FAKE API server (test/support/fake-kube-api.ts): the objects it creates,
// deletes and reads back are real API objects (schema-validated on create); Pods do not run, the test
// sets their phases, exit codes, termination messages and logs as the kubelet would.
const TOKEN = "mlops_tok_k8s";
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.close();
});

function runtimeOn(api: FakeKubeApi, kueue = false): KubernetesRuntime {
  const runtime = new KubernetesRuntime({
    api,
    context: {
      namespace: "mlops",
      workloadImage: "workload:1",
      apiUrl: "http://cp:8080",
      gpuProducts: DEFAULT_GPU_PRODUCTS,
      kueue,
    },
    workspace: { serviceType: "NodePort", volumeSize: "1Gi" },
    workspaceSshHost: "ssh.example.org",
    pollMs: 10,
  });
  runtimes.push(runtime);
  return runtime;
}

function gang(
  jobId: string,
  nodes: number,
  perNode: number,
  extra: Partial<ReplicaSpec> = {},
): ReplicaSpec[] {
  const world = nodes * perNode;
  return Array.from({ length: world }, (_, r) => ({
    jobId,
    attempt: 0,
    replicaIndex: r,
    command: ["python", "train.py"],
    env: { MLOPS_TOKEN: TOKEN, MLOPS_REPLICA_INDEX: String(r) },
    maskInLogs: [TOKEN],
    resources: { cpu: 1, memoryMiB: 1024, gpus: 1, gpuType: "h100" },
    rank: {
      rank: r,
      localRank: r % perNode,
      nodeRank: Math.floor(r / perNode),
      worldSize: world,
      localWorldSize: perNode,
      nodes,
    },
    timeoutSeconds: 600,
    ...extra,
  }));
}

async function collect(iterable: AsyncIterable<{ stream: string; data: Buffer }>) {
  const out = { stdout: "", stderr: "" } as Record<string, string>;
  for await (const chunk of iterable) out[chunk.stream] += chunk.data.toString();
  return out;
}

describe("Kubernetes runtime (fake API server)", () => {
  it("starts a gang as exactly one Job, one headless Service and one Secret, owned by the Job", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api, true);
    const handles = await runtime.startGang(gang("j1", 2, 2));
    expect(handles.map((h) => h.replicaId)).toEqual(["j1.a0.r0", "j1.a0.r1", "j1.a0.r2", "j1.a0.r3"]);
    const unit = handles[0].externalId!;
    expect(api.created).toEqual([
      { kind: "Job", name: unit },
      { kind: "Service", name: unit },
      { kind: "Secret", name: `${unit}-env` },
    ]);
    const job = (await api.get("Job", unit)) as IJob;
    expect(job.spec!.suspend).toBe(true); // Kueue admits it
    for (const kind of ["Service", "Secret"] as const) {
      const owned = await api.get(kind, kind === "Secret" ? `${unit}-env` : unit);
      expect(owned!.metadata!.ownerReferences![0]).toMatchObject({
        kind: "Job",
        name: unit,
        uid: job.metadata!.uid,
      });
    }
    const states = await runtime.reconcile();
    expect(states.map((s) => s.state)).toEqual(["starting", "starting", "starting", "starting"]);
  });

  it("starts none when one object cannot be created: the Job is deleted again", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    api.failNextCreate = "Secret";
    await expect(runtime.startGang(gang("j2", 1, 2))).rejects.toThrow(/injected failure/);
    expect([...api.objects.keys()]).toEqual([]);
    expect(api.deleted[0]).toMatchObject({ kind: "Job" });
  });

  it("refuses an invalid gang before creating anything", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const specs = gang("j3", 1, 2);
    specs[1] = { ...specs[1], command: ["other"] };
    await expect(runtime.startGang(specs)).rejects.toThrow(/share image, code, command/);
    expect(api.created).toEqual([]);
  });

  it("turns Pod phases, exit codes and per-rank termination messages into replica exits; logs per rank", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const handles = await runtime.startGang(gang("j4", 1, 2, { rank: undefined }).slice(0, 1));
    const [pod] = api.startPods(handles[0].externalId!);
    expect((await runtime.reconcile())[0].state).toBe("starting");
    api.runPod(pod.metadata!.name!);
    const running = (await runtime.reconcile())[0];
    expect(running).toMatchObject({ state: "running", node: "gpu-node-1", externalId: pod.metadata!.name });
    const follow = collect(runtime.logs(handles[0].replicaId, { follow: true }));
    api.appendLog(pod.metadata!.name!, `0o|epoch 1\n0e|token ${TOKEN}\n`);
    await new Promise((r) => setTimeout(r, 30));
    api.appendLog(pod.metadata!.name!, "0o|done\n");
    api.finishPod(pod.metadata!.name!, { exitCode: 3, message: "mlops-exits 0=3" });
    const exit = await handles[0].exited;
    expect(exit).toMatchObject({ end: "exited", exitCode: 3, signal: null });
    expect(await follow).toEqual({ stdout: "epoch 1\ndone\n", stderr: "token ***\n" });
    const archive = await runtime.logArchive(handles[0].replicaId);
    expect((await archive.stdout.toArray()).join("")).toBe("epoch 1\ndone\n");
  });

  it("reports a rank killed by a signal, OOM, a failed code fetch, and a deadline as timeout", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const [a] = await runtime.startGang(gang("j5", 1, 2));
    const [pod] = api.startPods(a.externalId!);
    api.runPod(pod.metadata!.name!);
    api.finishPod(pod.metadata!.name!, { exitCode: 137, message: "mlops-exits 0=0 1=137" });
    expect(await runtime.wait("j5.a0.r0")).toMatchObject({ exitCode: 0, end: "exited" });
    expect(await runtime.wait("j5.a0.r1")).toMatchObject({ exitCode: null, signal: "SIGKILL" });

    const [b] = await runtime.startGang(gang("j6", 1, 1));
    const [oom] = api.startPods(b.externalId!);
    api.finishPod(oom.metadata!.name!, { exitCode: 137, reason: "OOMKilled" });
    expect(await b.exited).toMatchObject({
      signal: "SIGKILL",
      message: expect.stringContaining("OOMKilled"),
    });

    const [c] = await runtime.startGang(gang("j7", 1, 1));
    const [fetch] = api.startPods(c.externalId!);
    api.failInit(fetch.metadata!.name!, "code fetch: sha256 mismatch");
    expect(await c.exited).toMatchObject({ exitCode: 1, message: "code fetch: sha256 mismatch" });

    const [d] = await runtime.startGang(gang("j8", 1, 1));
    const [slow] = api.startPods(d.externalId!);
    api.runPod(slow.metadata!.name!);
    api.setJobCondition(d.externalId!, "Failed", "DeadlineExceeded");
    api.finishPod(slow.metadata!.name!, { exitCode: 143 });
    expect(await d.exited).toMatchObject({ end: "timeout", signal: "SIGTERM" });
  });

  it("stops by deleting the Job (Foreground) and its Pods with the grace period; the end is 'stopped'", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const [handle] = await runtime.startGang(gang("j9", 1, 1));
    const [pod] = api.startPods(handle.externalId!);
    api.runPod(pod.metadata!.name!);
    const exit = await runtime.stop(handle.replicaId, { graceMs: 5000 });
    expect(exit.end).toBe("stopped");
    expect(api.deleted).toEqual([
      {
        kind: "Job",
        name: handle.externalId,
        options: { propagationPolicy: "Foreground", gracePeriodSeconds: 5 },
      },
      { kind: "Pod", name: pod.metadata!.name, options: { gracePeriodSeconds: 5 } },
    ]);
    expect([...api.objects.keys()]).toEqual([]); // Service and Secret went with the Job
  });

  it("after a restart (a new runtime over the same API) finds running, exited and lost replicas", async () => {
    const api = new FakeKubeApi();
    const first = runtimeOn(api);
    const [running] = await first.startGang(gang("r1", 1, 1));
    const [exited] = await first.startGang(gang("r2", 1, 1));
    const [vanished] = await first.startGang(gang("r3", 1, 1));
    await first.close();
    const [p1] = api.startPods(running.externalId!);
    const [p2] = api.startPods(exited.externalId!);
    const [p3] = api.startPods(vanished.externalId!);
    api.runPod(p1.metadata!.name!);
    api.runPod(p3.metadata!.name!);
    api.finishPod(p2.metadata!.name!, { exitCode: 0, message: "mlops-exits 0=0" });
    api.vanish(p3.metadata!.name!);
    api.setJobCondition(vanished.externalId!, "Failed", "BackoffLimitExceeded");

    const second = runtimeOn(api);
    const states = Object.fromEntries((await second.reconcile()).map((s) => [s.replicaId, s]));
    expect(states["r1.a0.r0"].state).toBe("running");
    expect(states["r2.a0.r0"]).toMatchObject({ state: "exited", exit: { exitCode: 0, end: "exited" } });
    expect(states["r3.a0.r0"]).toMatchObject({ state: "lost", exit: { end: "lost" } });
    const waiting = second.wait("r1.a0.r0");
    api.finishPod(p1.metadata!.name!, { exitCode: 0, message: "mlops-exits 0=0" });
    expect(await waiting).toMatchObject({ exitCode: 0 });
    await expect(second.remove("r1.a0.r0")).resolves.toBeUndefined();
    expect(await api.get("Job", running.externalId!)).toBeNull();
  });

  it("refuses to remove a running replica", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const [handle] = await runtime.startGang(gang("r4", 1, 1));
    api.runPod(api.startPods(handle.externalId!)[0].metadata!.name!);
    await expect(runtime.remove(handle.replicaId)).rejects.toThrow(/still running/);
    expect(await api.get("Job", handle.externalId!)).not.toBeNull();
  });

  it("runs a workspace as a Pod with a home PVC and a NodePort Service; the volume outlives it", async () => {
    const api = new FakeKubeApi();
    const runtime = runtimeOn(api);
    const spec: ReplicaSpec = {
      jobId: "ws1",
      attempt: 0,
      replicaIndex: 0,
      kind: "workspace",
      command: ["/usr/sbin/sshd", "-D"],
      env: {},
      resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
      ports: [{ name: "ssh" }],
      volumes: [{ name: "ws1-home", mountPath: "/home/ada" }],
      timeoutSeconds: null,
    };
    const originalCreate = api.create.bind(api);
    api.create = async (kind, object) => {
      const created = await originalCreate(kind, object);
      if (kind === "Service")
        (created as { spec: { ports: Array<{ nodePort?: number }> } }).spec.ports[0].nodePort = 31022;
      return created;
    };
    const handle = await runtime.start(spec);
    expect(handle.endpoints).toEqual({ ssh: { host: "ssh.example.org", port: 31022 } });
    expect(api.created.map((c) => c.kind)).toEqual(["PersistentVolumeClaim", "Pod", "Service"]);
    api.runPod(handle.externalId!);
    await expect(runtime.deleteVolume("ws1-home")).rejects.toThrow(/in use/);
    await runtime.stop(handle.replicaId, { graceMs: 0 });
    expect(await api.get("PersistentVolumeClaim", "mlops-vol-ws1-home")).not.toBeNull();
    await runtime.start({ ...spec, attempt: 1 }); // the same home again: the PVC exists, reused
    await runtime.stop("ws1.a1.r0", { graceMs: 0 });
    await runtime.deleteVolume("ws1-home");
    expect(await api.get("PersistentVolumeClaim", "mlops-vol-ws1-home")).toBeNull();
  });
});

describe("Kubernetes backend", () => {
  const artifacts = {} as ArtifactStore;
  const config = (extra: Record<string, unknown> = {}) =>
    Value.Default(ConfigSchema, { runtime: "kubernetes", kubernetesNamespace: "mlops", ...extra }) as never;

  it("reads the inventory from the nodes, detects Kueue, and describes itself as cluster-placed", async () => {
    const api = new FakeKubeApi();
    api.apiGroups.add("kueue.x-k8s.io");
    api.nodes = [
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "gpu-a", labels: { "nvidia.com/gpu.product": "NVIDIA-L4" } },
        status: {
          allocatable: { cpu: "16", memory: "64Gi", "nvidia.com/gpu": "2" },
          conditions: [{ type: "Ready", status: "True" }],
        },
      },
    ];
    const backend = await createKubernetesBackendOn(
      api,
      { config: config(), artifacts, apiUrl: () => "http://cp:8080" },
      { pollMs: 10 },
    );
    runtimes.push(backend.runtime);
    expect(backend.runtime.describe()).toEqual({
      name: "kubernetes",
      sandbox: "cluster",
      memoryLimit: "cluster",
      placement: "cluster",
    });
    expect(backend.inventory.nodes[0].gpus.map((g) => g.type)).toEqual(["l4", "l4"]);
    const [handle] = await backend.runtime.startGang(
      gang("b1", 1, 1, { resources: { cpu: 1, memoryMiB: 1, gpus: 1, gpuType: "l4" } }),
    );
    const job = (await api.get("Job", handle.externalId!)) as IJob;
    expect(job.metadata!.labels!["kueue.x-k8s.io/queue-name"]).toBe("gpu-l4");
    api.nodes = [];
    expect((await backend.refreshInventory!()).nodes).toEqual([]);
  });

  it("fails clearly when nodes cannot be listed and no GPUs are declared; uses MLOPS_GPUS when they are", async () => {
    const api = new FakeKubeApi();
    api.listNodes = async () => {
      throw new Error("nodes is forbidden");
    };
    const deps = (extra: Record<string, unknown>) => ({
      config: config(extra),
      artifacts,
      apiUrl: () => "http://cp:8080",
    });
    await expect(createKubernetesBackendOn(api, deps({}))).rejects.toThrow(
      /get\/list on nodes, or declare .* MLOPS_GPUS/,
    );
    const backend = await createKubernetesBackendOn(api, deps({ gpus: "h100:16" }));
    runtimes.push(backend.runtime);
    expect(backend.inventory.source).toBe("declared");
    expect(backend.inventory.nodes[0].gpus).toHaveLength(16);
  });
});
