import type { WorkloadInventory } from "../jobs/inventory.js";
import type { Runtime } from "./runtime.js";

/**
 * A workload backend: a runtime plus what the platform's scheduler may hand out (its inventory). The
 * local backend reports this machine's GPUs and lets the platform place replicas on them; a cluster
 * backend (Slurm, Kubernetes) reports the cluster's GPUs per node and type, and its runtime defers node
 * and device choice to the cluster (`describe().placement === "cluster"`), while the platform keeps
 * quotas, priorities, gang admission and the queue view.
 */
export interface WorkloadBackend {
  runtime: Runtime;
  /** Current inventory; cluster backends refresh it (refreshInventory) on each scheduling pass. */
  inventory: WorkloadInventory;
  refreshInventory?: () => Promise<WorkloadInventory>;
  /** The Python SDK's directory on this installation (local backend: bound read-only into sandboxes). */
  sdkPythonDir?: string;
  close(): Promise<void>;
}
