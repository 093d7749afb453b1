import type { AgreementCounts, AgreementSource } from "../analysis/canary-analysis.js";
import type { PredictionStore, VersionWindowStats } from "../prediction-log/prediction-record.js";
import type { ModelPool } from "../runtime/model-pool.js";
import { type Deployment, modelVersionKey } from "./deployment.js";

export interface VersionStatus {
  role: "primary" | "canary";
  version: number;
  /** `<model>:<version>` */
  modelVersion: string;
  /** Percent of traffic. */
  weight: number;
  /** Loaded in the process that answered (every serving process loads on its own). */
  loaded: boolean;
  loadError: string | null;
  stats: VersionWindowStats;
  /** Labelers' votes on this version's predictions since the window start. */
  agreement: (AgreementCounts & { rate: number | null }) | null;
}

export interface DeploymentStatus {
  deployment: Deployment;
  /** Figures are over predictions since this time: the canary's start, else the last hour. */
  since: number;
  versions: VersionStatus[];
  /** When the analysis loop judges the current step next (auto canaries only). */
  nextAnalysisAt: number | null;
}

const DEFAULT_WINDOW_MS = 60 * 60 * 1000;

export async function deploymentStatus(
  d: Deployment,
  deps: {
    predictions: PredictionStore;
    pool: ModelPool;
    agreement?: AgreementSource;
    flushLog?: () => Promise<void>;
  },
  now: number = Date.now(),
  sinceOverride?: number,
): Promise<DeploymentStatus> {
  await deps.flushLog?.();
  const since = sinceOverride ?? d.canaryStartedAt ?? now - DEFAULT_WINDOW_MS;
  const entries: Array<{ role: "primary" | "canary"; id: string; version: number; weight: number }> = [
    { role: "primary", id: d.primaryVersionId, version: d.primaryVersion, weight: 100 - d.canaryWeight },
  ];
  if (d.canaryVersionId && d.canaryVersion !== null) {
    entries.push({ role: "canary", id: d.canaryVersionId, version: d.canaryVersion, weight: d.canaryWeight });
  }
  const versions = await Promise.all(
    entries.map(async (e): Promise<VersionStatus> => {
      const modelVersion = modelVersionKey(d.modelName, e.version);
      const [stats, votes] = await Promise.all([
        deps.predictions.windowStats({ deploymentId: d.id, modelVersionId: e.id, since }),
        deps.agreement?.servedAgreement({
          projectId: d.projectId,
          deploymentId: d.id,
          modelVersionId: e.id,
          modelVersion,
          since,
        }),
      ]);
      return {
        role: e.role,
        version: e.version,
        modelVersion,
        weight: e.weight,
        loaded: deps.pool.loaded(e.id) !== undefined,
        loadError: deps.pool.loadError(e.id)?.message ?? null,
        stats,
        agreement: votes ? { ...votes, rate: votes.total > 0 ? votes.accepted / votes.total : null } : null,
      };
    }),
  );
  const nextAnalysisAt =
    d.state === "canarying" && d.plan?.auto && d.stepStartedAt !== null
      ? d.stepStartedAt + d.plan.intervalSeconds * 1000
      : null;
  return { deployment: d, since, versions, nextAnalysisAt };
}
