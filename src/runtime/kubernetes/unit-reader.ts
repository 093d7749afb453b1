import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ReplicaStatus } from "../runtime.js";
import type { KubeApi } from "./kube-api.js";
import { LABEL_JOB, LABEL_KIND, LABEL_UNIT, MANAGED_SELECTOR, jobLabelValue } from "./names.js";
import { podIndexOf, podsByIndex, replicaStatus, type UnitInfo, unitInfo } from "./replica-status.js";

/** A unit as the cluster shows it now: its Job (gangs) or Pod (workspaces) and its Pods. */
export interface UnitSnapshot {
  info: UnitInfo;
  job: IJob | null;
  pods: IPod[];
  /** Being deleted (a stop, by this process or an earlier one). */
  deleting: boolean;
}

/** Reads units and replica states from the API (no cache: the cluster is the record). */
export class UnitReader {
  constructor(private readonly api: KubeApi) {}

  /** The unit holding a replica, found by the job label (after a restart nothing else is known). */
  async findUnit(jobId: string, attempt: number, replicaIndex: number): Promise<UnitSnapshot | null> {
    const selector = `${MANAGED_SELECTOR},${LABEL_JOB}=${jobLabelValue(jobId)}`;
    const [jobs, pods] = await Promise.all([this.api.list("Job", selector), this.api.list("Pod", selector)]);
    const candidates: Array<IJob | IPod> = [
      ...jobs,
      ...pods.filter((p) => p.metadata?.labels?.[LABEL_KIND] === "workspace"),
    ];
    for (const object of candidates) {
      const info = unitInfo(object);
      if (!info || info.jobId !== jobId || info.attempt !== attempt) continue;
      if (replicaIndex < info.firstReplica || replicaIndex >= info.firstReplica + info.replicas) continue;
      return this.snapshotOf(
        info,
        object,
        pods.filter((p) => p.metadata?.labels?.[LABEL_UNIT] === info.unit),
      );
    }
    return null;
  }

  /** Every unit the runtime manages, with its Pods. */
  async allUnits(): Promise<UnitSnapshot[]> {
    const [jobs, pods] = await Promise.all([
      this.api.list("Job", MANAGED_SELECTOR),
      this.api.list("Pod", MANAGED_SELECTOR),
    ]);
    const podsOf = (unit: string) => pods.filter((p) => p.metadata?.labels?.[LABEL_UNIT] === unit);
    const units: UnitSnapshot[] = [];
    for (const object of [...jobs, ...pods.filter((p) => p.metadata?.labels?.[LABEL_KIND] === "workspace")]) {
      const info = unitInfo(object);
      if (info) units.push(this.snapshotOf(info, object, podsOf(info.unit)));
    }
    return units;
  }

  /** Re-reads one unit (null when it is gone). */
  async refresh(info: UnitInfo): Promise<UnitSnapshot | null> {
    if (info.kind === "workspace") {
      const pod = await this.api.get("Pod", info.unit);
      return pod ? this.snapshotOf(info, pod, [pod]) : null;
    }
    const [job, pods] = await Promise.all([
      this.api.get("Job", info.unit),
      this.api.list("Pod", `${MANAGED_SELECTOR},${LABEL_UNIT}=${info.unit}`),
    ]);
    return job ? this.snapshotOf(info, job, pods) : null;
  }

  private snapshotOf(info: UnitInfo, owner: IJob | IPod, pods: IPod[]): UnitSnapshot {
    return {
      info,
      job: owner.kind === "Job" ? (owner as IJob) : null,
      pods,
      deleting: !!owner.metadata?.deletionTimestamp,
    };
  }
}

export function podOfReplica(snapshot: UnitSnapshot, replicaIndex: number): IPod | null {
  return podsByIndex(snapshot.pods).get(podIndexOf(snapshot.info, replicaIndex)) ?? null;
}

export function statusInUnit(
  snapshot: UnitSnapshot,
  replicaIndex: number,
  stopping: boolean,
  now: Date,
): ReplicaStatus {
  return replicaStatus({
    info: snapshot.info,
    replicaIndex,
    job: snapshot.job,
    pod: podOfReplica(snapshot, replicaIndex),
    stopping: stopping || snapshot.deleting,
    now,
  });
}
