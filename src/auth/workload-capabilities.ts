import type { Permission } from "./roles.js";

/**
 * Everything a workload (job) token may do beyond reading its own project's data (datasets, snapshots,
 * models, model files: what `--init-from` needs), and the project permission each one stands for.
 * Each capability is bound to one target (its run, its job) by `grantWorkload`; any other write, deploy,
 * predict, label or manage call with a workload token is refused (docs/security.md).
 */
export const WORKLOAD_CAPABILITIES = {
  /** Metrics, params, tags, artifacts and status of the token's own run. */
  "run.write": "write",
  /** Create the registered model a run registers into (no gate: setting one is a human's decision). */
  "model.create": "write",
  /** Register a model version from the token's own run. */
  "model.version.create": "write",
  /** Report progress (start, chunk results) of the batch prediction the token's job works for. */
  "batch.report": "write",
  /**
   * Submit jobs into its own project: only the token of a running workspace (its engineer's sessions run
   * `mlops run submit` there, docs/architecture/workspaces.md); a job's token never gets it.
   */
  "job.submit": "write",
} as const satisfies Record<string, Permission>;

export type WorkloadCapability = keyof typeof WORKLOAD_CAPABILITIES;
