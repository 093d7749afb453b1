import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPod } from "kubernetes-models/v1/Pod";
import { type ReplicaEnd, type ReplicaExit, type ReplicaStatus, replicaIdOf } from "../runtime.js";
import { exitFromStatus, parseTerminationMessage } from "./launcher.js";
import {
  ANNOTATION_ATTEMPT,
  ANNOTATION_FIRST_REPLICA,
  ANNOTATION_JOB_ID,
  ANNOTATION_RANKS_PER_POD,
  ANNOTATION_REPLICAS,
  COMPLETION_INDEX_ANNOTATION,
  LABEL_KIND,
} from "./names.js";
import { FETCH_CONTAINER, MAIN_CONTAINER } from "./pod-template.js";

/**
 * Replica state from Job and Pod objects alone (docs/architecture/kubernetes-runtime.md, "Reconcile"), so
 * a control-plane process that did not start a unit knows as much as the one that did. Pure.
 */
export interface UnitInfo {
  unit: string;
  kind: "job" | "workspace";
  jobId: string;
  attempt: number;
  firstReplica: number;
  replicas: number;
  ranksPerPod: number;
  createdAt: string;
}

/** The unit an object (Job or workspace Pod) describes, from its annotations; null when not ours. */
export function unitInfo(object: IJob | IPod): UnitInfo | null {
  const meta = object.metadata;
  const a = meta?.annotations ?? {};
  const jobId = a[ANNOTATION_JOB_ID];
  const numbers = [
    a[ANNOTATION_ATTEMPT],
    a[ANNOTATION_FIRST_REPLICA],
    a[ANNOTATION_REPLICAS],
    a[ANNOTATION_RANKS_PER_POD],
  ];
  if (!meta?.name || !jobId || numbers.some((n) => n === undefined || !/^\d+$/.test(n))) return null;
  const [attempt, firstReplica, replicas, ranksPerPod] = numbers.map(Number);
  return {
    unit: meta.name,
    kind: meta.labels?.[LABEL_KIND] === "workspace" ? "workspace" : "job",
    jobId,
    attempt,
    firstReplica,
    replicas,
    ranksPerPod: Math.max(1, ranksPerPod),
    createdAt: meta.creationTimestamp ?? new Date(0).toISOString(),
  };
}

export function replicaIdsOf(info: UnitInfo): string[] {
  return Array.from({ length: info.replicas }, (_, i) =>
    replicaIdOf({ jobId: info.jobId, attempt: info.attempt, replicaIndex: info.firstReplica + i }),
  );
}

/** The Pod index (completion index) a replica runs in. */
export function podIndexOf(info: UnitInfo, replicaIndex: number): number {
  return Math.floor((replicaIndex - info.firstReplica) / info.ranksPerPod);
}

/** The newest Pod of each completion index (a workspace's single Pod is index 0). */
export function podsByIndex(pods: readonly IPod[]): Map<number, IPod> {
  const byIndex = new Map<number, IPod>();
  for (const pod of pods) {
    const raw = pod.metadata?.annotations?.[COMPLETION_INDEX_ANNOTATION] ?? "0";
    const index = Number(raw);
    const known = byIndex.get(index);
    if (!known || (known.metadata?.creationTimestamp ?? "") < (pod.metadata?.creationTimestamp ?? "")) {
      byIndex.set(index, pod);
    }
  }
  return byIndex;
}

export interface StatusInput {
  info: UnitInfo;
  replicaIndex: number;
  /** The Job of a gang unit (null: gone, or a workspace). */
  job: IJob | null;
  pod: IPod | null;
  /** A stop was requested (by this process, or the Job/Pod is being deleted). */
  stopping: boolean;
  now: Date;
}

function jobCondition(job: IJob | null, type: string): { reason?: string; message?: string } | null {
  const condition = job?.status?.conditions?.find((c) => c.type === type && c.status === "True");
  return condition ? { reason: condition.reason, message: condition.message } : null;
}

function timedOut(input: StatusInput): boolean {
  return (
    jobCondition(input.job, "Failed")?.reason === "DeadlineExceeded" ||
    input.pod?.status?.reason === "DeadlineExceeded"
  );
}

/** One replica's status. "lost" when its Pod vanished before it reported an end. */
export function replicaStatus(input: StatusInput): ReplicaStatus {
  const { info, replicaIndex, job, pod } = input;
  const replicaId = replicaIdOf({ jobId: info.jobId, attempt: info.attempt, replicaIndex });
  const base = { replicaId, jobId: info.jobId, attempt: info.attempt, replicaIndex };
  const startedAt = pod?.status?.startTime ?? pod?.metadata?.creationTimestamp ?? info.createdAt;
  const node = pod?.spec?.nodeName;
  const where = { externalId: pod?.metadata?.name ?? info.unit, ...(node ? { node } : {}), startedAt };
  const end: ReplicaEnd = timedOut(input) ? "timeout" : input.stopping ? "stopped" : "exited";
  const exit = (
    fields: Omit<ReplicaExit, "replicaId" | "startedAt" | "endedAt" | "durationMs" | "end">,
    endedAt?: string,
  ) => {
    const ended = endedAt ?? input.now.toISOString();
    return {
      replicaId,
      end: fields.exitCode === null && fields.signal === null && end === "exited" ? ("lost" as const) : end,
      startedAt,
      endedAt: ended,
      durationMs: Math.max(0, Date.parse(ended) - Date.parse(startedAt)),
      ...fields,
    };
  };
  if (!pod) {
    const finished = jobCondition(job, "Failed") ?? jobCondition(job, "Complete");
    if (job && !finished && !input.stopping) return { ...base, state: "starting", ...where };
    const why = timedOut(input)
      ? "the Job's deadline passed before its Pod ran"
      : job
        ? "its Pod vanished before it reported an end"
        : "its Kubernetes objects are gone";
    const ended = exit({ exitCode: null, signal: null, message: why });
    return { ...base, state: ended.end === "lost" ? "lost" : "exited", ...where, exit: ended };
  }
  const phase = pod.status?.phase;
  const main = pod.status?.containerStatuses?.find((c) => c.name === MAIN_CONTAINER);
  const fetch = pod.status?.initContainerStatuses?.find((c) => c.name === FETCH_CONTAINER);
  const fetchFailed =
    fetch?.state?.terminated && fetch.state.terminated.exitCode !== 0 ? fetch.state.terminated : null;
  const terminated = main?.state?.terminated;
  if (fetchFailed) {
    const ended = exit(
      {
        exitCode: fetchFailed.exitCode,
        signal: null,
        message: fetchFailed.message ?? "the code fetch failed",
      },
      fetchFailed.finishedAt,
    );
    return { ...base, state: "exited", ...where, exit: ended };
  }
  if (!terminated && phase !== "Succeeded" && phase !== "Failed") {
    return { ...base, state: main?.state?.running ? "running" : "starting", ...where };
  }
  if (!terminated) {
    // Ended without a container status (evicted, deadline before start): nothing tells how it ended.
    const ended = exit({
      exitCode: null,
      signal: null,
      message: pod.status?.message ?? pod.status?.reason ?? "ended",
    });
    return { ...base, state: ended.end === "lost" ? "lost" : "exited", ...where, exit: ended };
  }
  const perRank = parseTerminationMessage(terminated.message)?.get(replicaIndex);
  const fromContainer = exitFromStatus(terminated.exitCode);
  const status = perRank ?? fromContainer;
  const message =
    terminated.reason === "OOMKilled" ? "OOMKilled: the Pod exceeded its memory limit" : undefined;
  const ended = exit({ ...status, ...(message ? { message } : {}) }, terminated.finishedAt);
  return { ...base, state: "exited", ...where, exit: ended };
}
