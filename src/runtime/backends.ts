import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { Config } from "../config.js";
import type { WorkloadBackend } from "./backend.js";

export interface BackendDeps {
  config: Config;
  /** Code archives by digest (the local runtime unpacks them; cluster runtimes let jobs fetch them). */
  artifacts: ArtifactStore;
  /** URL workloads reach the control plane at (known once the server listens). */
  apiUrl: () => string;
  /** Where the local backend looks up `bwrap` (default: the system directories); others ignore it. */
  searchPath?: string;
}

/** Builds the backend MLOPS_RUNTIME names; cluster backends are loaded only when chosen. */
export async function createWorkloadBackend(deps: BackendDeps): Promise<WorkloadBackend> {
  switch (deps.config.runtime) {
    case "slurm": {
      const { createSlurmBackend } = await import("./slurm/slurm-backend.js");
      return createSlurmBackend(deps);
    }
    case "kubernetes": {
      const { createKubernetesBackend } = await import("./kubernetes/kubernetes-backend.js");
      return createKubernetesBackend(deps);
    }
    default: {
      const { createLocalBackend } = await import("./local/local-workloads.js");
      return createLocalBackend(deps);
    }
  }
}
