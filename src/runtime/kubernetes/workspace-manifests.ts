import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import { InputError } from "../../errors.js";
import type { ReplicaSpec } from "../runtime.js";
import { secretObject } from "./gang-manifests.js";
import {
  ANNOTATION_ATTEMPT,
  ANNOTATION_FIRST_REPLICA,
  ANNOTATION_JOB_ID,
  ANNOTATION_PORTS,
  ANNOTATION_RANKS_PER_POD,
  ANNOTATION_REPLICAS,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_UNIT,
  LABEL_VOLUME,
  MANAGED_BY,
  dnsLabel,
  secretName,
  unitName,
  volumeClaimName,
} from "./names.js";
import {
  type ManifestContext,
  OUTPUT_DIR,
  WORK_DIR,
  sharedEnv,
  workloadLabels,
  workloadPodSpec,
} from "./pod-template.js";

export interface WorkspaceOptions {
  /** How SSH clients reach the Pod: a port on every node, or a cloud load balancer. */
  serviceType: "NodePort" | "LoadBalancer";
  /** Size of a new persistent volume (a workspace's home), e.g. "20Gi". */
  volumeSize: string;
}

export interface WorkspaceObjects {
  unit: string;
  pod: IPod;
  /** Exposes the spec's ports; null when it has none. */
  service: IService | null;
  secret: ISecret | null;
  /** Claims of the spec's volumes; created when missing, kept after the Pod (deleteVolume removes one). */
  claims: IPersistentVolumeClaim[];
  /** Port name -> the port the workload listens on (MLOPS_PORT_<NAME>). */
  ports: Record<string, number>;
}

/** First port a workload listens on; each Pod has its own network, so the numbers are fixed. */
export const FIRST_WORKLOAD_PORT = 2222;

/**
 * A long-running replica (kind "workspace"): a bare Pod (restartPolicy Never: the platform restarts
 * workspaces, not the kubelet), PVCs for its volumes, and a NodePort or LoadBalancer Service for its ports.
 */
export function buildWorkspaceObjects(
  spec: ReplicaSpec,
  context: ManifestContext,
  options: WorkspaceOptions,
): WorkspaceObjects {
  const unit = unitName(spec.jobId, spec.attempt, spec.replicaIndex);
  const { plain, secret } = sharedEnv([spec]);
  const secretKeys = Object.keys(secret).sort();
  const secretObjectName = secretKeys.length > 0 ? secretName(unit) : null;
  const labels = workloadLabels(unit, spec);
  const ports: Record<string, number> = {};
  const portEnv: Record<string, string> = {};
  (spec.ports ?? []).forEach((port, i) => {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(port.name))
      throw new InputError(`port name '${port.name}' is not usable`);
    if (port.name in ports) throw new InputError(`port '${port.name}' appears twice`);
    ports[port.name] = FIRST_WORKLOAD_PORT + i;
    portEnv[`MLOPS_PORT_${port.name.toUpperCase()}`] = String(FIRST_WORKLOAD_PORT + i);
  });
  const volumes = spec.volumes ?? [];
  for (const volume of volumes) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(volume.name))
      throw new InputError(`volume name '${volume.name}' is not usable`);
    if (!volume.mountPath.startsWith("/") || volume.mountPath.split("/").includes("..")) {
      throw new InputError(`mount path '${volume.mountPath}' must be absolute`);
    }
  }
  const home = spec.user?.home ?? WORK_DIR;
  const env: Record<string, string> = {
    ...plain,
    ...portEnv,
    HOME: home,
    MLOPS_WORK_DIR: WORK_DIR,
    MLOPS_OUTPUT_DIR: OUTPUT_DIR,
    ...(spec.user ? { USER: spec.user.name, LOGNAME: spec.user.name } : {}),
    MLOPS_RANKS_PER_POD: "1",
    MLOPS_GPUS_PER_RANK: String(spec.resources.gpus),
    MLOPS_FIRST_REPLICA: String(spec.replicaIndex),
    MLOPS_TORCHRUN: "0",
  };
  const annotations = {
    [ANNOTATION_JOB_ID]: spec.jobId,
    [ANNOTATION_ATTEMPT]: String(spec.attempt),
    [ANNOTATION_FIRST_REPLICA]: String(spec.replicaIndex),
    [ANNOTATION_REPLICAS]: "1",
    [ANNOTATION_RANKS_PER_POD]: "1",
    [ANNOTATION_PORTS]: JSON.stringify(ports),
  };
  const podSpec = workloadPodSpec({
    spec,
    context,
    ranks: 1,
    secret: secretObjectName,
    secretKeys,
    env,
    extraVolumes: volumes.map((v) => ({
      name: `vol-${dnsLabel(v.name, 50)}`,
      persistentVolumeClaim: { claimName: volumeClaimName(v.name) },
    })),
    extraMounts: volumes.map((v) => ({ name: `vol-${dnsLabel(v.name, 50)}`, mountPath: v.mountPath })),
    ports: Object.entries(ports).map(([name, containerPort]) => ({
      name: dnsLabel(name, 15),
      containerPort,
    })),
  });
  if (spec.timeoutSeconds !== null)
    podSpec.activeDeadlineSeconds = Math.max(1, Math.ceil(spec.timeoutSeconds));
  const pod: IPod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: unit, namespace: context.namespace, labels, annotations },
    spec: podSpec,
  };
  const service: IService | null =
    Object.keys(ports).length === 0
      ? null
      : {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: unit, namespace: context.namespace, labels, annotations },
          spec: {
            type: options.serviceType,
            selector: { [LABEL_UNIT]: unit },
            ports: Object.entries(ports).map(([name, port]) => ({
              name: dnsLabel(name, 15),
              port,
              targetPort: port,
              protocol: "TCP",
            })),
          },
        };
  const claims: IPersistentVolumeClaim[] = volumes.map((v) => ({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: volumeClaimName(v.name),
      namespace: context.namespace,
      labels: {
        [LABEL_COMPONENT]: "workload",
        [LABEL_MANAGED_BY]: MANAGED_BY,
        [LABEL_VOLUME]: dnsLabel(v.name, 63),
      },
      annotations: { "mlops.dev/volume-name": v.name },
    },
    spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: options.volumeSize } } },
  }));
  return {
    unit,
    pod,
    service,
    secret: secretObjectName ? secretObject(secretObjectName, context.namespace, labels, secret) : null,
    claims,
    ports,
  };
}
