import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { InputError } from "../../errors.js";
import { RUNTIME_ENV, type ReplicaSpec } from "../runtime.js";
import { GPU_PRODUCT_LABEL, type GpuProductTable, productsOfType } from "./gpu-products.js";
import { launcherCommand, maskSedProgram } from "./launcher.js";
import {
  LABEL_COMPONENT,
  LABEL_JOB,
  LABEL_KIND,
  LABEL_MANAGED_BY,
  LABEL_UNIT,
  MANAGED_BY,
  jobLabelValue,
} from "./names.js";

/** What the object builders need besides the specs (from config and the cluster). */
export interface ManifestContext {
  namespace: string;
  /** Image of workloads that name none, and of the code-fetching init container. */
  workloadImage: string;
  /** Control-plane URL for the init container when the spec's env has no MLOPS_API_URL. */
  apiUrl: string;
  gpuProducts: GpuProductTable;
  /** `nvidia.com/gpu.product` values seen on the cluster's nodes (extends the table's). */
  seenProducts?: readonly string[];
  /** Kueue serves its API: GPU Jobs get a queue label and start suspended. */
  kueue: boolean;
  /** Size of a job's work-dir PVC (kept across attempts); unset: an emptyDir per Pod. */
  workVolumeSize?: string;
}

/** The workload's own paths inside the Pod (an emptyDir per Pod; the code is unpacked there). */
export const WORK_DIR = "/mlops/work";
export const OUTPUT_DIR = `${WORK_DIR}/mlops-output`;
/** UID/GID of the workload images (Dockerfile.workload, Dockerfile). */
export const WORKLOAD_UID = 10001;
export const WORKLOAD_SERVICE_ACCOUNT = "mlops-workload";
export const MAIN_CONTAINER = "workload";
export const FETCH_CONTAINER = "fetch-code";
export const DEFAULT_GRACE_SECONDS = 30;

/**
 * Downloads the job's code archive with the job token, checks its sha256, unpacks it into the work dir
 * (tarfile's "data" filter where Python has it: no absolute paths, links out, or devices) once per job: a
 * marker file, under a lock, as the work dir is shared by the gang's Pods and kept across attempts.
 * Failures end up in the termination message, which the runtime reports as the replica's exit message.
 */
export const FETCH_SCRIPT = `import fcntl, hashlib, os, sys, tarfile, tempfile, urllib.request
def fail(msg):
    open(os.environ.get("MLOPS_TERMINATION_LOG", "/dev/termination-log"), "w").write("code fetch: " + msg)
    print(msg, file=sys.stderr); sys.exit(1)
work = os.environ["MLOPS_WORK_DIR"]
marker = os.path.join(work, ".mlops-code-" + os.environ["MLOPS_CODE_DIGEST"])
lock = open(os.path.join(work, ".mlops-code.lock"), "w")
fcntl.flock(lock, fcntl.LOCK_EX)  # the Pods of a gang share the work dir: one unpacks, once per job
if os.path.exists(marker): sys.exit(0)
url = os.environ["MLOPS_API_URL"].rstrip("/") + "/api/v1/jobs/" + os.environ["MLOPS_JOB_ID"] + "/code"
req = urllib.request.Request(url, headers={"authorization": "Bearer " + os.environ["MLOPS_TOKEN"]})
digest = hashlib.sha256()
with tempfile.TemporaryFile() as tmp:
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            for block in iter(lambda: res.read(1 << 20), b""):
                digest.update(block); tmp.write(block)
    except Exception as err:
        fail("%s: %s" % (url, err))
    if digest.hexdigest() != os.environ["MLOPS_CODE_DIGEST"]:
        fail("sha256 %s, expected %s" % (digest.hexdigest(), os.environ["MLOPS_CODE_DIGEST"]))
    tmp.seek(0)
    with tarfile.open(fileobj=tmp, mode="r:*") as archive:
        if hasattr(tarfile, "data_filter"): archive.extractall(work, filter="data")
        else: archive.extractall(work)
open(marker, "w").close()
`;

export function workloadLabels(unit: string, spec: ReplicaSpec): Record<string, string> {
  return {
    [LABEL_COMPONENT]: "workload",
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_UNIT]: unit,
    [LABEL_JOB]: jobLabelValue(spec.jobId),
    [LABEL_KIND]: spec.kind ?? "job",
  };
}

/**
 * The environment every rank of a unit shares, split into plain values and secret ones (those the spec
 * masks in logs: the job token, the job's secret env), plus the names whose value is the replica index
 * (MLOPS_REPLICA_INDEX): the launcher sets those per rank. Any other difference between ranks is refused.
 */
export function sharedEnv(specs: readonly ReplicaSpec[]): {
  plain: Record<string, string>;
  secret: Record<string, string>;
  replicaValued: string[];
} {
  const reserved = new Set<string>(RUNTIME_ENV);
  const keys = new Set(specs.flatMap((s) => Object.keys(s.env)));
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  const replicaValued: string[] = [];
  const masked = new Set(specs.flatMap((s) => s.maskInLogs ?? []).filter((v) => v !== ""));
  for (const key of [...keys].sort()) {
    if (reserved.has(key)) continue;
    const values = specs.map((s) => s.env[key]);
    if (specs.length > 1 && values.every((v, i) => v === String(specs[i].replicaIndex))) {
      replicaValued.push(key);
      continue;
    }
    if (values.some((v) => v !== values[0])) {
      throw new InputError(`env ${key} differs between the ranks; the Kubernetes runtime needs one value`);
    }
    if (values[0] === undefined) continue;
    if (masked.has(values[0])) secret[key] = values[0];
    else plain[key] = values[0];
  }
  const sed = maskSedProgram([...masked]);
  if (sed !== "") secret.MLOPS_LOG_SED = sed;
  return { plain, secret, replicaValued };
}

export function envVars(
  plain: Record<string, string>,
  secretKeys: readonly string[],
  secret: string | null,
): IEnvVar[] {
  const vars: IEnvVar[] = Object.entries(plain).map(([name, value]) => ({ name, value }));
  if (secret) {
    for (const key of secretKeys)
      vars.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } });
  }
  return vars;
}

/** Requests and limits of a Pod that runs `ranks` replicas of these resources. */
export function podResources(spec: ReplicaSpec, ranks: number): IContainer["resources"] {
  const { cpu, memoryMiB, gpus } = spec.resources;
  const requests: Record<string, string> = {
    cpu: `${Math.max(1, Math.round(cpu * ranks * 1000))}m`,
    memory: `${Math.max(1, Math.round(memoryMiB * ranks))}Mi`,
  };
  const limits: Record<string, string> = { memory: requests.memory };
  if (gpus > 0) {
    if (!Number.isInteger(gpus))
      throw new InputError("GPUs per replica must be a whole number on Kubernetes");
    requests["nvidia.com/gpu"] = String(gpus * ranks);
    limits["nvidia.com/gpu"] = String(gpus * ranks);
  }
  return { requests, limits };
}

/** GPU scheduling: the type by node affinity on GFD's product label; tolerate the GPU nodes' taint. */
export function gpuPlacement(
  spec: ReplicaSpec,
  context: ManifestContext,
): Pick<IPodSpec, "affinity" | "tolerations"> {
  if (spec.resources.gpus <= 0) return {};
  const tolerations: IPodSpec["tolerations"] = [
    { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
  ];
  const type = spec.resources.gpuType;
  if (!type) return { tolerations };
  const products = productsOfType(type, context.gpuProducts, context.seenProducts);
  if (products.length === 0) {
    throw new InputError(
      `GPU type '${type}' has no nvidia.com/gpu.product values: add it to MLOPS_K8S_GPU_PRODUCTS (type=Product@queue)`,
    );
  }
  return {
    tolerations,
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: GPU_PRODUCT_LABEL, operator: "In", values: products }] },
          ],
        },
      },
    },
  };
}

/** Kueue's queue for a spec, when Kueue is on and the spec asks for a typed GPU. */
export function kueueQueue(spec: ReplicaSpec, context: ManifestContext): string | null {
  if (!context.kueue || spec.resources.gpus <= 0 || !spec.resources.gpuType) return null;
  return context.gpuProducts[spec.resources.gpuType]?.queue ?? `gpu-${spec.resources.gpuType}`;
}

export interface PodSpecInput {
  spec: ReplicaSpec;
  context: ManifestContext;
  /** Replicas (ranks) per Pod. */
  ranks: number;
  /** The unit's Secret, when it has secret values. */
  secret: string | null;
  secretKeys: string[];
  env: Record<string, string>;
  /** Extra env entries (downward API). */
  extraEnv?: IEnvVar[];
  extraVolumes?: IVolume[];
  extraMounts?: IVolumeMount[];
  /** PVC of the work dir; unset: an emptyDir. */
  workClaim?: string;
  ports?: Array<{ name: string; containerPort: number }>;
}

/** The Pod spec shared by gang Jobs and workspace Pods: launcher, init container, security, placement. */
export function workloadPodSpec(input: PodSpecInput): IPodSpec {
  const { spec, context, secret } = input;
  if (spec.command.length === 0) throw new InputError("the command is empty");
  const graceSeconds = spec.graceMs === undefined ? DEFAULT_GRACE_SECONDS : Math.ceil(spec.graceMs / 1000);
  const mounts: IVolumeMount[] = [
    { name: "work", mountPath: WORK_DIR },
    { name: "shm", mountPath: "/dev/shm" },
    ...(input.extraMounts ?? []),
  ];
  const securityContext = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  };
  const initContainers: IContainer[] = [];
  if (spec.codeDigest) {
    if (!secret || !input.secretKeys.includes("MLOPS_TOKEN")) {
      throw new InputError("a job with code needs its token (MLOPS_TOKEN, masked in logs) to fetch it");
    }
    initContainers.push({
      name: FETCH_CONTAINER,
      image: context.workloadImage,
      command: ["python3", "-c", FETCH_SCRIPT],
      env: [
        { name: "MLOPS_API_URL", value: input.env.MLOPS_API_URL ?? context.apiUrl },
        { name: "MLOPS_JOB_ID", value: spec.jobId },
        { name: "MLOPS_CODE_DIGEST", value: spec.codeDigest },
        { name: "MLOPS_WORK_DIR", value: WORK_DIR },
        { name: "MLOPS_TOKEN", valueFrom: { secretKeyRef: { name: secret, key: "MLOPS_TOKEN" } } },
      ],
      volumeMounts: [{ name: "work", mountPath: WORK_DIR }],
      resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
      securityContext,
    });
  }
  return {
    restartPolicy: "Never",
    serviceAccountName: WORKLOAD_SERVICE_ACCOUNT,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: graceSeconds,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: WORKLOAD_UID,
      runAsGroup: WORKLOAD_UID,
      fsGroup: WORKLOAD_UID,
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...gpuPlacement(spec, context),
    ...(initContainers.length > 0 ? { initContainers } : {}),
    containers: [
      {
        name: MAIN_CONTAINER,
        image: spec.image ?? context.workloadImage,
        command: launcherCommand(spec.command),
        workingDir: WORK_DIR,
        env: [...envVars(input.env, input.secretKeys, secret), ...(input.extraEnv ?? [])],
        resources: podResources(spec, input.ranks),
        ...(input.ports && input.ports.length > 0
          ? { ports: input.ports.map((p) => ({ name: p.name, containerPort: p.containerPort })) }
          : {}),
        volumeMounts: mounts,
        securityContext,
        terminationMessagePolicy: "File",
      },
    ],
    volumes: [
      input.workClaim
        ? { name: "work", persistentVolumeClaim: { claimName: input.workClaim } }
        : { name: "work", emptyDir: {} },
      // PyTorch DataLoader workers and NCCL share memory through /dev/shm; the runtime's default is 64 MiB.
      { name: "shm", emptyDir: { medium: "Memory" } },
      ...(input.extraVolumes ?? []),
    ],
  };
}
