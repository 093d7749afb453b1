import type { SettleFacts } from "../data/import-sessions.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { Principal } from "../auth/principal.js";
import type { ManifestItem, SnapshotManifest } from "../data/manifest.js";
import type { Dataset, SplitCounts } from "../data/model.js";
import type { JobService } from "../jobs/job-service.js";
import type { RegistryService } from "../registry/registry-service.js";
import type { DeploymentService } from "../serving/deployments/deployment-service.js";
import type { TrackingService } from "../tracking/tracking-service.js";
import type { ModelEvaluation } from "./pipeline-run.js";

/**
 * What the pipelines need from the other domains, kept narrow: the engine and its steps depend on these
 * shapes, and `platform-ports.ts` builds them from the platform's services.
 */
export interface SnapshotPort {
  /** Content-addressed: the same labels give the same snapshot (idempotent). */
  create(
    datasetId: string,
    actor: string,
  ): Promise<{ id: string; itemCount: number; splitCounts: SplitCounts; created: boolean }>;
  find(id: string): Promise<{ id: string; createdAt: number } | undefined>;
  manifest(id: string): Promise<SnapshotManifest>;
  countLabelChangesSince(datasetId: string, snapshotId: string | null): Promise<number>;
  /** Open bulk imports and the newest label change: whether the dataset's labels have settled. */
  settleFacts(datasetId: string): Promise<SettleFacts>;
  /** A dataset the caller may read (policy set), by id or name. */
  dataset(principal: Principal, project: string, dataset: string): Promise<Dataset>;
}

/** Evaluates one model version on a set of labeled items, as serving would predict them. */
export interface HoldoutEvaluator {
  readonly method: string;
  evaluate(version: { id: string; version: number }, items: ManifestItem[]): Promise<ModelEvaluation>;
}

/** The training code the default job runs (the bundled example), stored as a code archive. */
export interface CodeSource {
  bundledExampleDigest(): Promise<string>;
}

export type RegistryPort = Pick<
  RegistryService,
  | "getModel"
  | "listVersions"
  | "getVersion"
  | "searchVersions"
  | "createVersion"
  | "setVersionTag"
  | "listValidations"
  | "recordValidation"
  | "transition"
>;

export type JobsPort = Pick<JobService, "submit" | "get" | "list" | "readLogs" | "cancel">;

export type DeploymentsPort = Pick<DeploymentService, "get" | "startCanary" | "history">;

export type TrackingPort = Pick<TrackingService, "lookupRun" | "logBatch">;

export interface PipelinePorts {
  snapshots: SnapshotPort;
  registry: RegistryPort;
  jobs: JobsPort;
  deployments: DeploymentsPort;
  tracking: TrackingPort;
  evaluator: HoldoutEvaluator;
  code: CodeSource;
  audit: AuditLog;
}
