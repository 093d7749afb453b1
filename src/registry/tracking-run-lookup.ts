import type { TrackingStore } from "../tracking/tracking-store.js";
import type { RunLookup } from "./run-lookup.js";

/** The registry's view of tracking, read through tracking's own store interface. */
export function runLookupFromTracking(
  tracking: Pick<TrackingStore, "findRunInfo" | "listRunArtifacts">,
): RunLookup {
  return {
    async getRun(runId) {
      const info = await tracking.findRunInfo(runId);
      if (!info || info.lifecycleStage === "deleted") return undefined;
      return {
        runId: info.runId,
        experimentId: info.experimentId,
        projectId: info.projectId,
        artifactUri: info.artifactUri,
      };
    },
    async listArtifactFiles(runId, dir) {
      const files = await tracking.listRunArtifacts(runId, dir);
      return files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size }));
    },
  };
}
