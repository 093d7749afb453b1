import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as batchV1 from "kubernetes-models/batch/v1";
import * as coreV1 from "kubernetes-models/v1";
import type { IPod } from "kubernetes-models/v1/Pod";
import {
  type DeleteOptions,
  type INode,
  type KubeApi,
  KubeApiError,
  type KubeKind,
  type KubeObjects,
  type PodLogOptions,
} from "../../src/runtime/kubernetes/kube-api.js";

type AnyObject = KubeObjects[KubeKind];
type ModelClass = new (data: unknown) => { validate(): void };

/**
 * A FAKE Kubernetes API server (there is no cluster here): it stores the objects the runtime creates,
 * validates each against the OpenAPI schema of kubernetes-models 4.5.1 (Kubernetes 1.33) like a real API
 * server would (422), and records deletions. Nothing runs: the test plays kubelet and Job controller with
 * `startPods`, `runPod`, `finishPod`, `appendLog`, `failJob`. Deleting an owner removes what it owns
 * (garbage collection), at once.
 */
export class FakeKubeApi implements KubeApi {
  readonly objects = new Map<string, AnyObject>();
  readonly created: Array<{ kind: KubeKind; name: string }> = [];
  readonly deleted: Array<{ kind: KubeKind; name: string; options: DeleteOptions }> = [];
  readonly podLogs = new Map<string, string>();
  nodes: INode[] = [];
  apiGroups = new Set<string>(["batch", "apps"]);
  /** Makes the next create of this kind fail (tests of all-or-nothing starts). */
  failNextCreate: KubeKind | null = null;

  async create<K extends KubeKind>(kind: K, object: KubeObjects[K]): Promise<KubeObjects[K]> {
    const name = object.metadata?.name ?? "";
    if (this.failNextCreate === kind) {
      this.failNextCreate = null;
      throw new KubeApiError(500, `create ${kind} ${name}: injected failure`);
    }
    const Model = (
      kind === "Job" ? batchV1.Job : (coreV1 as unknown as Record<string, ModelClass>)[kind]
    ) as ModelClass;
    try {
      new Model(object).validate();
    } catch (err) {
      throw new KubeApiError(422, `create ${kind} ${name}: ${(err as Error).message}`);
    }
    if (this.objects.has(`${kind}/${name}`)) throw new KubeApiError(409, `${kind} ${name} already exists`);
    const stored = structuredClone(object) as KubeObjects[K];
    stored.metadata = { ...stored.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString() };
    this.objects.set(`${kind}/${name}`, stored);
    this.created.push({ kind, name });
    return structuredClone(stored);
  }

  async get<K extends KubeKind>(kind: K, name: string): Promise<KubeObjects[K] | null> {
    const object = this.objects.get(`${kind}/${name}`);
    return object ? (structuredClone(object) as KubeObjects[K]) : null;
  }

  async list<K extends KubeKind>(kind: K, labelSelector: string): Promise<Array<KubeObjects[K]>> {
    const wanted = labelSelector
      .split(",")
      .filter(Boolean)
      .map((term) => term.split("="));
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(`${kind}/`))
      .map(([, object]) => object)
      .filter((object) => wanted.every(([k, v]) => object.metadata?.labels?.[k] === v))
      .map((object) => structuredClone(object) as KubeObjects[K]);
  }

  async delete(kind: KubeKind, name: string, options: DeleteOptions = {}): Promise<boolean> {
    this.deleted.push({ kind, name, options });
    const object = this.objects.get(`${kind}/${name}`);
    if (!object) return false;
    this.objects.delete(`${kind}/${name}`);
    const uid = object.metadata?.uid;
    for (const [key, other] of [...this.objects.entries()]) {
      const owned = other.metadata?.ownerReferences?.some((ref) => ref.uid === uid);
      const jobPod =
        kind === "Job" &&
        key.startsWith("Pod/") &&
        other.metadata?.labels?.["batch.kubernetes.io/job-name"] === name;
      if (owned || jobPod) this.objects.delete(key);
    }
    return true;
  }

  async *podLog(podName: string, options: PodLogOptions): AsyncIterable<Buffer> {
    let sent = 0;
    for (;;) {
      const text = this.podLogs.get(podName) ?? "";
      if (text.length > sent) {
        yield Buffer.from(text.slice(sent));
        sent = text.length;
      }
      const pod = this.objects.get(`Pod/${podName}`) as IPod | undefined;
      const ended =
        !pod || pod.status?.containerStatuses?.some((c) => c.name === "workload" && c.state?.terminated);
      if (!options.follow || ended || options.signal?.aborted) {
        const rest = (this.podLogs.get(podName) ?? "").slice(sent);
        if (rest) yield Buffer.from(rest);
        return;
      }
      await sleep(5);
    }
  }

  async listNodes(): Promise<INode[]> {
    return structuredClone(this.nodes);
  }

  async hasApiGroup(group: string): Promise<boolean> {
    return this.apiGroups.has(group);
  }

  // --- the test's side: what the Job controller and the kubelet would do ---

  /** The Job controller: one Pod per completion index, from the Job's template (Pending). */
  startPods(jobName: string): IPod[] {
    const job = this.objects.get(`Job/${jobName}`) as KubeObjects["Job"] | undefined;
    if (!job?.spec) throw new Error(`no Job ${jobName}`);
    const pods: IPod[] = [];
    for (let index = 0; index < (job.spec.completions ?? 1); index++) {
      const name = `${jobName}-${index}-${randomUUID().slice(0, 5)}`;
      const pod: IPod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name,
          uid: randomUUID(),
          creationTimestamp: new Date().toISOString(),
          labels: { ...job.spec.template.metadata?.labels, "batch.kubernetes.io/job-name": jobName },
          annotations: {
            ...job.spec.template.metadata?.annotations,
            "batch.kubernetes.io/job-completion-index": String(index),
          },
        },
        spec: { ...job.spec.template.spec!, hostname: `${jobName}-${index}` },
        status: { phase: "Pending" },
      };
      this.objects.set(`Pod/${name}`, pod);
      pods.push(pod);
    }
    return pods;
  }

  pod(name: string): IPod {
    const pod = this.objects.get(`Pod/${name}`) as IPod | undefined;
    if (!pod) throw new Error(`no Pod ${name}`);
    return pod;
  }

  podsOf(unit: string): IPod[] {
    return [...this.objects.values()].filter(
      (o) => o.kind === "Pod" && o.metadata?.labels?.["mlops.dev/unit"] === unit,
    ) as IPod[];
  }

  runPod(name: string, node = "gpu-node-1"): void {
    const pod = this.pod(name);
    pod.spec = { ...pod.spec!, nodeName: node };
    pod.status = {
      phase: "Running",
      hostIP: "10.0.0.7",
      startTime: new Date().toISOString(),
      containerStatuses: [
        {
          name: "workload",
          image: "img",
          imageID: "",
          ready: true,
          restartCount: 0,
          state: { running: { startedAt: new Date().toISOString() } },
        },
      ],
    };
  }

  finishPod(name: string, end: { exitCode: number; message?: string; reason?: string }): void {
    const pod = this.pod(name);
    const at = new Date().toISOString();
    pod.status = {
      ...pod.status,
      phase: end.exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: [
        {
          name: "workload",
          image: "img",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: {
            terminated: { exitCode: end.exitCode, message: end.message, reason: end.reason, finishedAt: at },
          },
        },
      ],
    };
  }

  failInit(name: string, message: string): void {
    const pod = this.pod(name);
    pod.status = {
      phase: "Failed",
      initContainerStatuses: [
        {
          name: "fetch-code",
          image: "img",
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 1, message } },
        },
      ],
    };
  }

  appendLog(podName: string, text: string): void {
    this.podLogs.set(podName, (this.podLogs.get(podName) ?? "") + text);
  }

  /** The Job controller's verdict, e.g. ("Failed", "DeadlineExceeded"). */
  setJobCondition(jobName: string, type: "Failed" | "Complete" | "Suspended", reason: string): void {
    const job = this.objects.get(`Job/${jobName}`) as KubeObjects["Job"];
    job.status = {
      ...job.status,
      conditions: [...(job.status?.conditions ?? []), { type, status: "True", reason }],
    };
  }

  /** A Pod vanishes (node lost, deleted by someone else). */
  vanish(podName: string): void {
    this.objects.delete(`Pod/${podName}`);
  }
}
