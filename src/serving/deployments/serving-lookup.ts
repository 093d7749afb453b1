import type { ServingLookup } from "../../registry/registry-catalog.js";
import type { DeploymentStore } from "./deployment-store.js";

/** The registry's view of serving: which deployments serve which versions of a model (delete refusal). */
export function servingLookup(store: DeploymentStore): ServingLookup {
  return {
    async deploymentsOf(projectId, modelId) {
      const deployments = await store.list({ projectIds: [projectId] });
      return deployments
        .filter((d) => d.modelId === modelId)
        .map((d) => ({
          deployment: d.name,
          versionIds: [d.primaryVersionId, ...(d.canaryVersionId ? [d.canaryVersionId] : [])],
        }));
    },
  };
}
