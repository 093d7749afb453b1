import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import { InputError } from "../../errors.js";
import { gangProblems, type ReplicaSpec } from "../runtime.js";
import {
  ANNOTATION_ATTEMPT,
  ANNOTATION_FIRST_REPLICA,
  ANNOTATION_JOB_ID,
  ANNOTATION_RANKS_PER_POD,
  ANNOTATION_REPLICAS,
  COMPLETION_INDEX_ANNOTATION,
  LABEL_COMPONENT,
  LABEL_JOB,
  LABEL_KUEUE_QUEUE,
  LABEL_MANAGED_BY,
  LABEL_UNIT,
  MANAGED_BY,
  jobLabelValue,
  secretName,
  unitName,
  workClaimName,
} from "./names.js";
import {
  type ManifestContext,
  OUTPUT_DIR,
  WORK_DIR,
  kueueQueue,
  sharedEnv,
  workloadLabels,
  workloadPodSpec,
} from "./pod-template.js";

/** The rendezvous port of rank 0 (torchrun's default). */
export const MASTER_PORT = 29500;

export interface GangObjects {
  unit: string;
  job: IJob;
  /** Headless Service: `<unit>-<index>.<unit>.<namespace>.svc` names each Pod (rank discovery). */
  service: IService;
  /** The unit's secret env (token, masked values); null when there is none. */
  secret: ISecret | null;
  /** Replica indices in the unit, in order. */
  replicas: number[];
  ranksPerPod: number;
  /** Kueue queue, when the Job waits for Kueue's admission. */
  queue: string | null;
  /** The job's work-dir PVC (created when missing, shared by attempts); null: emptyDir per Pod. */
  workClaim: IPersistentVolumeClaim | null;
}

/**
 * One gang (the replicas of one job attempt, started together) as an Indexed Job: one Pod per node
 * (completion index = node rank) running `ranksPerPod` replicas, parallelism = completions = nodes,
 * backoffLimit 0 (the platform retries the whole gang, never one Pod), activeDeadlineSeconds from the
 * timeout. Replicas without a rank layout get one Pod each (a single one: a Job of one Pod). Pure.
 */
export function buildGangObjects(specs: readonly ReplicaSpec[], context: ManifestContext): GangObjects {
  const sorted = [...specs].sort((a, b) => a.replicaIndex - b.replicaIndex);
  const first = sorted[0];
  if (!first) throw new InputError("a gang needs at least one replica");
  if (sorted.length > 1 || first.rank) {
    const problems = gangProblems(sorted);
    if (problems.length > 0) throw new InputError(`not a gang: ${problems.join("; ")}`);
  }
  if (sorted.some((s) => (s.kind ?? "job") !== "job"))
    throw new InputError("a gang Job runs replicas of kind job");
  const ranksPerPod = first.rank?.localWorldSize ?? 1;
  // Without a rank layout, replicas are independent: one Pod each.
  const nodes = first.rank?.nodes ?? sorted.length;
  checkLayout(sorted, ranksPerPod, nodes);
  for (const spec of sorted) {
    if (
      spec.image !== first.image ||
      spec.codeDigest !== first.codeDigest ||
      spec.command.join("\0") !== first.command.join("\0") ||
      JSON.stringify(spec.resources) !== JSON.stringify(first.resources)
    ) {
      throw new InputError("the ranks of a gang must share image, code, command and resources on Kubernetes");
    }
  }
  const unit = unitName(first.jobId, first.attempt, first.replicaIndex);
  const { plain, secret, replicaValued } = sharedEnv(sorted);
  const secretKeys = Object.keys(secret).sort();
  const secretObjectName = secretKeys.length > 0 ? secretName(unit) : null;
  const labels = workloadLabels(unit, first);
  const queue = kueueQueue(first, context);
  const master = `${unit}-0.${unit}.${context.namespace}.svc`;
  const env: Record<string, string> = {
    ...plain,
    HOME: WORK_DIR,
    MLOPS_WORK_DIR: WORK_DIR,
    MLOPS_OUTPUT_DIR: OUTPUT_DIR,
    MLOPS_RANKS_PER_POD: String(ranksPerPod),
    MLOPS_GPUS_PER_RANK: String(first.resources.gpus),
    MLOPS_FIRST_REPLICA: String(first.replicaIndex),
    MLOPS_REPLICA_VALUED: replicaValued.join(" "),
    MLOPS_TORCHRUN: first.rank ? "1" : "0",
    PET_NNODES: String(nodes),
    PET_NPROC_PER_NODE: String(ranksPerPod),
    ...(first.rank ? { PET_MASTER_ADDR: master, PET_MASTER_PORT: String(MASTER_PORT) } : {}),
  };
  const annotations = {
    [ANNOTATION_JOB_ID]: first.jobId,
    [ANNOTATION_ATTEMPT]: String(first.attempt),
    [ANNOTATION_FIRST_REPLICA]: String(first.replicaIndex),
    [ANNOTATION_REPLICAS]: String(sorted.length),
    [ANNOTATION_RANKS_PER_POD]: String(ranksPerPod),
  };
  const workClaim = context.workVolumeSize ? workClaimObject(first.jobId, nodes, context) : null;
  const podSpec = workloadPodSpec({
    spec: first,
    context,
    ranks: ranksPerPod,
    workClaim: workClaim?.metadata?.name,
    secret: secretObjectName,
    secretKeys,
    env,
    extraEnv: [
      {
        name: "PET_NODE_RANK",
        valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } },
      },
    ],
  });
  podSpec.subdomain = unit;
  const job: IJob = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: unit,
      namespace: context.namespace,
      labels: { ...labels, ...(queue ? { [LABEL_KUEUE_QUEUE]: queue } : {}) },
      annotations,
    },
    spec: {
      completionMode: "Indexed",
      completions: nodes,
      parallelism: nodes,
      backoffLimit: 0,
      // Kueue admits the whole Job at once (all Pods or none); without it the platform already admitted.
      suspend: queue !== null,
      ...(first.timeoutSeconds !== null
        ? { activeDeadlineSeconds: Math.max(1, Math.ceil(first.timeoutSeconds)) }
        : {}),
      template: { metadata: { labels, annotations }, spec: podSpec },
    },
  };
  const service: IService = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: unit, namespace: context.namespace, labels, annotations },
    spec: {
      clusterIP: "None",
      // Rank 0's name must resolve while the other Pods start, before anything is "ready".
      publishNotReadyAddresses: true,
      selector: { [LABEL_UNIT]: unit },
      ports: [{ name: "rendezvous", port: MASTER_PORT, targetPort: MASTER_PORT, protocol: "TCP" }],
    },
  };
  return {
    unit,
    job,
    service,
    secret: secretObjectName ? secretObject(secretObjectName, context.namespace, labels, secret) : null,
    replicas: sorted.map((s) => s.replicaIndex),
    ranksPerPod,
    queue,
    workClaim,
  };
}

/** The work dir of a job: ReadWriteMany when its Pods may sit on several nodes. No owner: it outlives attempts. */
function workClaimObject(jobId: string, nodes: number, context: ManifestContext): IPersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: workClaimName(jobId),
      namespace: context.namespace,
      labels: {
        [LABEL_COMPONENT]: "workload",
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_JOB]: jobLabelValue(jobId),
      },
      annotations: { [ANNOTATION_JOB_ID]: jobId },
    },
    spec: {
      accessModes: [nodes > 1 ? "ReadWriteMany" : "ReadWriteOnce"],
      resources: { requests: { storage: context.workVolumeSize ?? "20Gi" } },
    },
  };
}

/** Replica R runs in Pod floor(R / ranksPerPod) as its process R mod ranksPerPod. */
function checkLayout(specs: readonly ReplicaSpec[], ranksPerPod: number, nodes: number): void {
  if (!Number.isInteger(ranksPerPod) || ranksPerPod < 1) throw new InputError("localWorldSize must be >= 1");
  if (!specs[0].rank) {
    if (specs.some((s) => s.rank))
      throw new InputError("either every replica of a gang has a rank layout or none");
    return;
  }
  if (specs.length !== nodes * ranksPerPod) {
    throw new InputError(`${specs.length} replicas do not fill ${nodes} nodes x ${ranksPerPod} ranks`);
  }
  for (const spec of specs) {
    const rank = spec.rank;
    const expected = {
      rank: spec.replicaIndex,
      localRank: spec.replicaIndex % ranksPerPod,
      nodeRank: Math.floor(spec.replicaIndex / ranksPerPod),
      worldSize: specs.length,
      localWorldSize: ranksPerPod,
      nodes,
    };
    if (!rank || JSON.stringify(rank) !== JSON.stringify({ ...rank, ...expected })) {
      throw new InputError(
        `replica ${spec.replicaIndex}: rank layout ${JSON.stringify(rank)} is not node-major (expected ${JSON.stringify(expected)})`,
      );
    }
  }
}

export function secretObject(
  name: string,
  namespace: string,
  labels: Record<string, string>,
  data: Record<string, string>,
): ISecret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels },
    type: "Opaque",
    immutable: true,
    stringData: data,
  };
}

/** Makes an object go with its Job or Pod (garbage collection): the runtime never deletes Secrets itself. */
export function ownedBy<T extends { metadata?: ISecret["metadata"] }>(
  object: T,
  owner: { apiVersion: string; kind: string; metadata?: { name?: string; uid?: string } },
): T {
  const reference = {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata?.name ?? "",
    uid: owner.metadata?.uid ?? "",
    blockOwnerDeletion: false,
  };
  return { ...object, metadata: { ...object.metadata, ownerReferences: [reference] } };
}
