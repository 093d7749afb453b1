import { createHash } from "node:crypto";

/**
 * Names and labels of the objects the runtime creates (infrastructure/kubernetes/README.md: workload Pods
 * carry `app.kubernetes.io/component: workload`, which the NetworkPolicies select on). One gang (the
 * replicas of one job attempt started together) or one workspace replica is one "unit": a Job or a Pod,
 * plus its Service and Secret, all named `<unit>` / `<unit>-env` and labelled `mlops.dev/unit: <unit>`.
 */
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_UNIT = "mlops.dev/unit";
export const LABEL_JOB = "mlops.dev/job";
export const LABEL_KIND = "mlops.dev/kind";
export const LABEL_VOLUME = "mlops.dev/volume";
export const MANAGED_BY = "mlops-platform";
/** Kueue's queue label (docs/design-decisions.md, "Kueue for gang admission"). */
export const LABEL_KUEUE_QUEUE = "kueue.x-k8s.io/queue-name";

/** Annotations that let a later control-plane process rebuild replica ids from the objects alone. */
export const ANNOTATION_JOB_ID = "mlops.dev/job-id";
export const ANNOTATION_ATTEMPT = "mlops.dev/attempt";
export const ANNOTATION_FIRST_REPLICA = "mlops.dev/first-replica";
export const ANNOTATION_REPLICAS = "mlops.dev/replicas";
export const ANNOTATION_RANKS_PER_POD = "mlops.dev/ranks-per-pod";
export const ANNOTATION_PORTS = "mlops.dev/ports";

/** The Pod annotation an Indexed Job sets to the Pod's completion index. */
export const COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index";

/** Everything the runtime manages, for listing. */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

const MAX_UNIT = 52; // `<unit>-<index>` must stay a DNS label (63) for the Pods' hostnames.

/** A DNS-1123 label from anything: lower case, [a-z0-9-], a hash suffix when it had to be cut or changed. */
export function dnsLabel(value: string, max: number): string {
  const cleaned = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (cleaned === value && cleaned.length <= max && cleaned !== "") return cleaned;
  const hash = createHash("sha256").update(value).digest("hex").slice(0, 8);
  const head = cleaned.slice(0, max - 9).replace(/-+$/g, "");
  return head === "" ? hash : `${head}-${hash}`;
}

/** `mlops-<job>-a<attempt>-r<first replica>`, at most 52 characters. */
export function unitName(jobId: string, attempt: number, firstReplica: number): string {
  const suffix = `-a${attempt}-r${firstReplica}`;
  return `mlops-${dnsLabel(jobId, MAX_UNIT - 6 - suffix.length)}${suffix}`;
}

/** A label value for a job id: the id itself when it is a valid label value, else a DNS label of it. */
export function jobLabelValue(jobId: string): string {
  return /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/.test(jobId) ? jobId : dnsLabel(jobId, 63);
}

/** The PVC of a persistent volume (a workspace's home). */
export function volumeClaimName(volume: string): string {
  return `mlops-vol-${dnsLabel(volume, 53)}`;
}

/** The PVC holding a job's work dir (code, outputs, checkpoints), shared by its attempts. */
export function workClaimName(jobId: string): string {
  return `mlops-work-${dnsLabel(jobId, 52)}`;
}

export function secretName(unit: string): string {
  return `${unit}-env`;
}
