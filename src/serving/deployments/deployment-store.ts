import type { Deployment, DeploymentHistoryEntry } from "./deployment.js";

/** Persistence of deployments and their history (SQL implementation: store/repositories/serving.ts). */
export interface DeploymentStore {
  /** Inserts a deployment with its first history entry; ConflictError when its project has the name. */
  insert(deployment: Deployment, first: Omit<DeploymentHistoryEntry, "id">): Promise<void>;
  /**
   * Writes `next` only if the stored row still has revision `expectedRevision`, together with its
   * history entry and a bump of the serving generation, in one transaction. false: someone else changed
   * the deployment first (nothing was written).
   */
  update(
    next: Deployment,
    expectedRevision: number,
    entry: Omit<DeploymentHistoryEntry, "id">,
  ): Promise<boolean>;
  /** Removes a deployment and its history; bumps the generation. */
  delete(id: string): Promise<void>;
  /** Deployments with this name, in every project (names are unique per project only). */
  findNamed(name: string): Promise<Deployment[]>;
  findById(id: string): Promise<Deployment | undefined>;
  list(filter?: { projectIds?: string[] }): Promise<Deployment[]>;
  history(deploymentId: string, limit?: number): Promise<DeploymentHistoryEntry[]>;
  /** A counter bumped by every change of any deployment: the cheap "did anything change?" poll. */
  generation(): Promise<number>;
}
