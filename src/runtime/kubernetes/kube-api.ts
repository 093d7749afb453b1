import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { INode } from "kubernetes-models/v1/Node";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";

/**
 * The part of the Kubernetes API the runtime uses (docs/architecture/kubernetes-runtime.md), in plain
 * JSON objects as the API server sends them (timestamps are RFC 3339 strings). Typed with the interfaces of
 * `kubernetes-models` (type-only: nothing of it is loaded at run time). One implementation talks to a
 * cluster through @kubernetes/client-node (client-node-api.ts); tests use test/support/fake-kube-api.ts.
 * Everything is namespaced to the runtime's namespace except `listNodes` and `hasApiGroup`.
 */
export type { IJob, INode, IPersistentVolumeClaim, IPod, ISecret, IService };

export type KubeKind = "Job" | "Pod" | "Service" | "PersistentVolumeClaim" | "Secret";

export interface KubeObjects {
  Job: IJob;
  Pod: IPod;
  Service: IService;
  PersistentVolumeClaim: IPersistentVolumeClaim;
  Secret: ISecret;
}

export interface DeleteOptions {
  /** "Foreground": the object goes after its dependents (a Job after its Pods). */
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
}

export interface PodLogOptions {
  container: string;
  /** Keep the stream open until the container ends. */
  follow?: boolean;
  signal?: AbortSignal;
}

export interface KubeApi {
  create<K extends KubeKind>(kind: K, object: KubeObjects[K]): Promise<KubeObjects[K]>;
  /** null when it does not exist. */
  get<K extends KubeKind>(kind: K, name: string): Promise<KubeObjects[K] | null>;
  list<K extends KubeKind>(kind: K, labelSelector: string): Promise<Array<KubeObjects[K]>>;
  /** Resolves false when the object did not exist. */
  delete(kind: KubeKind, name: string, options?: DeleteOptions): Promise<boolean>;
  /** A container's log as it arrives (follow) or as it is now. */
  podLog(podName: string, options: PodLogOptions): AsyncIterable<Buffer>;
  listNodes(): Promise<INode[]>;
  /** Whether the API server serves a group (discovery), e.g. "kueue.x-k8s.io". */
  hasApiGroup(group: string): Promise<boolean>;
}

/** An API error with its HTTP status (404 not found, 409 exists, 403 forbidden, 422 invalid). */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export function isKubeStatus(err: unknown, status: number): boolean {
  return err instanceof KubeApiError && err.status === status;
}
