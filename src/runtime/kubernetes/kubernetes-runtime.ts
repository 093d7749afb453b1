import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IService } from "kubernetes-models/v1/Service";
import { ConflictError, InputError } from "../../errors.js";
import {
  type LogChunk,
  type LogOptions,
  parseReplicaId,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  type ReplicaStatus,
  type ReplicaUsage,
  type Runtime,
  type RuntimeDescription,
  replicaIdOf,
} from "../runtime.js";
import { buildGangObjects, ownedBy } from "./gang-manifests.js";
import { isKubeStatus, type KubeApi } from "./kube-api.js";
import { FramedLogSplitter, maskChunk as mask, StreamOffsets } from "./log-frames.js";
import { MANAGED_SELECTOR, volumeClaimName, workClaimName } from "./names.js";
import { type ManifestContext, MAIN_CONTAINER } from "./pod-template.js";
import { replicaIdsOf, type UnitInfo, unitInfo } from "./replica-status.js";
import { podOfReplica, statusInUnit, UnitReader, type UnitSnapshot } from "./unit-reader.js";
import { workspaceEndpoints } from "./workspace-endpoints.js";
import { buildWorkspaceObjects, type WorkspaceOptions } from "./workspace-manifests.js";

export interface KubernetesRuntimeOptions {
  api: KubeApi;
  context: ManifestContext;
  workspace: WorkspaceOptions;
  /** Host SSH clients reach workspaces at (NodePort); unset: the Pod's node address. */
  workspaceSshHost?: string;
  /** How often replica state is read while someone waits (default 2 s). */
  pollMs?: number;
  now?: () => Date;
}

/**
 * The runtime contract on Kubernetes (docs/architecture/kubernetes-runtime.md): a gang is an Indexed Job
 * with a headless Service and a Secret, a workspace a Pod with PVCs and a Service. The cluster is the
 * record: every state is read back from Job and Pod objects, so a restarted control plane continues where
 * the last one stopped. Placement is the cluster's (and Kueue's, when installed).
 */
export class KubernetesRuntime implements Runtime {
  private readonly reader: UnitReader;
  private readonly units = new Map<string, UnitInfo>();
  private readonly stopping = new Set<string>();
  private readonly exits = new Map<string, ReplicaExit>();
  private readonly waits = new Map<string, Promise<ReplicaExit>>();
  private readonly removed = new Set<string>();
  private readonly masks = new Map<string, string[]>();
  private readonly closing = new AbortController();
  private readonly pollMs: number;
  private readonly now: () => Date;

  constructor(private readonly options: KubernetesRuntimeOptions) {
    this.reader = new UnitReader(options.api);
    this.pollMs = options.pollMs ?? 2000;
    this.now = options.now ?? (() => new Date());
  }

  describe(): RuntimeDescription {
    return { name: "kubernetes", sandbox: "cluster", memoryLimit: "cluster", placement: "cluster" };
  }

  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const [handle] = await this.startGang([spec]);
    return handle;
  }

  async startGang(specs: readonly ReplicaSpec[]): Promise<ReplicaHandle[]> {
    if (specs.length === 1 && specs[0].kind === "workspace") return [await this.startWorkspace(specs[0])];
    const objects = buildGangObjects(specs, this.options.context);
    const { api } = this.options;
    if (objects.workClaim) await this.createIfMissing(objects.workClaim);
    const job = await api.create("Job", objects.job);
    try {
      await api.create("Service", ownedBy(objects.service, job));
      if (objects.secret) await api.create("Secret", ownedBy(objects.secret, job));
    } catch (err) {
      // All or nothing: the Job goes, and with it (garbage collection) whatever was created for it.
      await api
        .delete("Job", objects.unit, { propagationPolicy: "Background", gracePeriodSeconds: 0 })
        .catch(() => false);
      throw err;
    }
    const info = unitInfo(job);
    if (!info) throw new Error(`the API server returned Job ${objects.unit} without its annotations`);
    return specs.map((spec) => this.track(info, spec, job.metadata?.creationTimestamp));
  }

  private async startWorkspace(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const objects = buildWorkspaceObjects(spec, this.options.context, this.options.workspace);
    const { api } = this.options;
    for (const claim of objects.claims) await this.createIfMissing(claim);
    const pod = await api.create("Pod", objects.pod);
    let service: IService | null = null;
    try {
      if (objects.service) service = await api.create("Service", ownedBy(objects.service, pod));
      if (objects.secret) await api.create("Secret", ownedBy(objects.secret, pod));
    } catch (err) {
      await api.delete("Pod", objects.unit, { gracePeriodSeconds: 0 }).catch(() => false);
      throw err;
    }
    const info = unitInfo(pod);
    if (!info) throw new Error(`the API server returned Pod ${objects.unit} without its annotations`);
    const handle = this.track(info, spec, pod.metadata?.creationTimestamp);
    const endpoints = service
      ? await workspaceEndpoints(this.endpointSource(), info.unit, service)
      : undefined;
    return endpoints ? { ...handle, endpoints } : handle;
  }

  private track(info: UnitInfo, spec: ReplicaSpec, createdAt: string | undefined): ReplicaHandle {
    const replicaId = replicaIdOf(spec);
    this.units.set(replicaId, info);
    this.removed.delete(replicaId);
    if (spec.maskInLogs?.length) this.masks.set(replicaId, [...spec.maskInLogs]);
    return {
      replicaId,
      externalId: info.unit,
      startedAt: createdAt ?? this.now().toISOString(),
      exited: this.wait(replicaId),
    };
  }

  wait(replicaId: string): Promise<ReplicaExit> {
    let waiting = this.waits.get(replicaId);
    if (!waiting) {
      waiting = this.pollUntilExit(replicaId);
      this.waits.set(replicaId, waiting);
    }
    return waiting;
  }

  private async pollUntilExit(replicaId: string): Promise<ReplicaExit> {
    for (;;) {
      const status = await this.status(replicaId);
      if (status.exit) return status.exit;
      await sleep(this.pollMs, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closing.signal.aborted) return new Promise<never>(() => undefined); // close(): stop watching
    }
  }

  /** One replica's state now; an ended one keeps the exit first seen (its Pod may go later). */
  private async status(replicaId: string): Promise<ReplicaStatus> {
    const known = this.exits.get(replicaId);
    const parsed = parseReplicaId(replicaId);
    if (!parsed) throw new InputError(`'${replicaId}' is not a replica id`);
    const snapshot = await this.snapshotOf(replicaId, parsed);
    const base = {
      replicaId,
      jobId: parsed.jobId,
      attempt: parsed.attempt,
      replicaIndex: parsed.replicaIndex,
    };
    if (known)
      return {
        ...base,
        state: known.end === "lost" ? "lost" : "exited",
        exit: known,
        startedAt: known.startedAt,
      };
    if (!snapshot) {
      const at = this.now().toISOString();
      const stopped = this.units.has(replicaId) && this.stopping.has(this.units.get(replicaId)?.unit ?? "");
      const exit: ReplicaExit = {
        replicaId,
        end: stopped ? "stopped" : "lost",
        exitCode: null,
        signal: null,
        startedAt: this.units.get(replicaId)?.createdAt ?? at,
        endedAt: at,
        durationMs: 0,
        message: stopped ? "stopped; its Pods are gone" : "its Kubernetes objects are gone",
      };
      this.exits.set(replicaId, exit);
      return { ...base, state: exit.end === "lost" ? "lost" : "exited", exit };
    }
    const status = statusInUnit(
      snapshot,
      parsed.replicaIndex,
      this.stopping.has(snapshot.info.unit),
      this.now(),
    );
    if (status.exit) this.exits.set(replicaId, status.exit);
    return status;
  }

  private async snapshotOf(
    replicaId: string,
    parsed: { jobId: string; attempt: number; replicaIndex: number },
  ): Promise<UnitSnapshot | null> {
    const info = this.units.get(replicaId);
    if (info) return this.reader.refresh(info);
    const found = await this.reader.findUnit(parsed.jobId, parsed.attempt, parsed.replicaIndex);
    if (found) this.units.set(replicaId, found.info);
    return found;
  }

  async stop(replicaId: string, options: { graceMs?: number } = {}): Promise<ReplicaExit> {
    const parsed = parseReplicaId(replicaId);
    if (!parsed) throw new InputError(`'${replicaId}' is not a replica id`);
    const snapshot = await this.snapshotOf(replicaId, parsed);
    if (snapshot && !this.exits.has(replicaId)) {
      const { unit, kind } = snapshot.info;
      this.stopping.add(unit);
      const grace =
        options.graceMs === undefined ? {} : { gracePeriodSeconds: Math.ceil(options.graceMs / 1000) };
      const { api } = this.options;
      if (kind === "workspace") {
        await api.delete("Pod", unit, grace);
      } else {
        // Foreground: the Job (and its Service and Secret) goes after its Pods. The grace of a Job's
        // deletion does not reach its Pods, so they are deleted with it explicitly.
        await api.delete("Job", unit, { propagationPolicy: "Foreground", ...grace });
        for (const pod of snapshot.pods) {
          if (pod.metadata?.name) await api.delete("Pod", pod.metadata.name, grace);
        }
      }
    }
    return this.wait(replicaId);
  }

  async *logs(replicaId: string, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const parsed = parseReplicaId(replicaId);
    if (!parsed) throw new InputError(`'${replicaId}' is not a replica id`);
    const podName = await this.podWithLogs(replicaId, parsed, options);
    if (!podName) return;
    const splitter = new FramedLogSplitter(parsed.replicaIndex);
    const offsets = new StreamOffsets(options.from);
    const masks = this.masks.get(replicaId) ?? [];
    const pass = (chunks: LogChunk[]) =>
      chunks.map((c) => offsets.apply(mask(c, masks))).filter((c): c is LogChunk => c !== null);
    const stream = this.options.api.podLog(podName, {
      container: MAIN_CONTAINER,
      follow: options.follow ?? false,
      signal: options.signal,
    });
    for await (const data of stream) yield* pass(splitter.push(data));
    yield* pass(splitter.end());
  }

  /** The replica's Pod once its workload container has started (follow waits for that); null if never. */
  private async podWithLogs(
    replicaId: string,
    parsed: { jobId: string; attempt: number; replicaIndex: number },
    options: LogOptions,
  ): Promise<string | null> {
    for (;;) {
      const snapshot = await this.snapshotOf(replicaId, parsed);
      const pod = snapshot ? podOfReplica(snapshot, parsed.replicaIndex) : null;
      const main = pod?.status?.containerStatuses?.find((c) => c.name === MAIN_CONTAINER);
      if (pod?.metadata?.name && (main?.state?.running || main?.state?.terminated)) return pod.metadata.name;
      const status = await this.status(replicaId);
      if (!options.follow || status.exit || options.signal?.aborted || this.closing.signal.aborted)
        return null;
      await sleep(this.pollMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  async logArchive(replicaId: string): Promise<{ stdout: Readable; stderr: Readable }> {
    const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    for await (const chunk of this.logs(replicaId)) parts[chunk.stream].push(chunk.data);
    return {
      stdout: Readable.from([Buffer.concat(parts.stdout)]),
      stderr: Readable.from([Buffer.concat(parts.stderr)]),
    };
  }

  /** Not measured: the metrics API (metrics.k8s.io) is not read (docs/architecture/kubernetes-runtime.md). */
  async usage(_replicaId: string): Promise<ReplicaUsage | null> {
    return null;
  }

  async reconcile(): Promise<ReplicaStatus[]> {
    const statuses = new Map<string, ReplicaStatus>();
    const now = this.now();
    for (const snapshot of await this.reader.allUnits()) {
      for (const replicaId of replicaIdsOf(snapshot.info)) {
        if (this.removed.has(replicaId)) continue;
        this.units.set(replicaId, snapshot.info);
        const parsed = parseReplicaId(replicaId);
        if (!parsed) continue;
        const known = this.exits.get(replicaId);
        const status = known
          ? {
              ...statusInUnit(snapshot, parsed.replicaIndex, true, now),
              state: "exited" as const,
              exit: known,
            }
          : statusInUnit(snapshot, parsed.replicaIndex, this.stopping.has(snapshot.info.unit), now);
        if (status.exit) this.exits.set(replicaId, status.exit);
        if (snapshot.info.kind === "workspace" && status.state === "running") {
          const service = await this.options.api.get("Service", snapshot.info.unit);
          const endpoints = service
            ? await workspaceEndpoints(this.endpointSource(), snapshot.info.unit, service, false)
            : undefined;
          if (endpoints) status.endpoints = endpoints;
        }
        statuses.set(replicaId, status);
      }
    }
    // Replicas this process started whose objects are gone: their recorded end, or lost.
    for (const replicaId of this.units.keys()) {
      if (statuses.has(replicaId) || this.removed.has(replicaId)) continue;
      statuses.set(replicaId, await this.status(replicaId));
    }
    return [...statuses.values()];
  }

  async remove(replicaId: string): Promise<void> {
    const parsed = parseReplicaId(replicaId);
    if (!parsed) throw new InputError(`'${replicaId}' is not a replica id`);
    const status = await this.status(replicaId);
    if (!status.exit) throw new ConflictError(`replica ${replicaId} is still ${status.state}: stop it first`);
    const info = this.units.get(replicaId);
    this.removed.add(replicaId);
    this.masks.delete(replicaId);
    this.waits.delete(replicaId);
    if (!info) return;
    // The unit (Job or Pod, with its Service and Secret) goes once every replica in it has ended.
    const snapshot = await this.reader.refresh(info);
    if (!snapshot) return;
    const now = this.now();
    const ended = replicaIdsOf(info).every((id) => {
      const index = parseReplicaId(id)?.replicaIndex ?? 0;
      return this.exits.has(id) || statusInUnit(snapshot, index, false, now).exit !== undefined;
    });
    if (ended)
      await this.options.api.delete(info.kind === "workspace" ? "Pod" : "Job", info.unit, {
        propagationPolicy: "Background",
      });
  }

  /** A PVC that is kept across replicas: a workspace's home, a job's work dir. */
  private async createIfMissing(claim: IPersistentVolumeClaim): Promise<void> {
    try {
      await this.options.api.create("PersistentVolumeClaim", claim);
    } catch (err) {
      if (!isKubeStatus(err, 409)) throw err;
    }
  }

  /** Deletes the job's work-dir PVC (with an emptyDir work dir there is nothing to do). */
  async removeJobFiles(jobId: string): Promise<void> {
    await this.deleteClaim(workClaimName(jobId), `the work dir of job ${jobId}`);
  }

  async deleteVolume(name: string): Promise<void> {
    await this.deleteClaim(volumeClaimName(name), `volume ${name}`);
  }

  private async deleteClaim(claim: string, what: string): Promise<void> {
    const pods = await this.options.api.list("Pod", MANAGED_SELECTOR);
    const user = pods.find(
      (p) =>
        p.status?.phase !== "Succeeded" &&
        p.status?.phase !== "Failed" &&
        p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === claim),
    );
    if (user) throw new ConflictError(`${what} is in use by Pod ${user.metadata?.name}`);
    await this.options.api.delete("PersistentVolumeClaim", claim);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  private endpointSource() {
    const { api, workspaceSshHost, context } = this.options;
    return { api, sshHost: workspaceSshHost, namespace: context.namespace, pollMs: this.pollMs };
  }
}
