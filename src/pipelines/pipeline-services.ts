import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { DataServices } from "../data/data-services.js";
import type { ModelPool } from "../serving/runtime/model-pool.js";
import { bundledExampleCode } from "./example-code.js";
import { servingRunnerEvaluator } from "./holdout-evaluator.js";
import { PipelineEngine } from "./pipeline-engine.js";
import { PipelineLoop } from "./pipeline-loop.js";
import type { PipelineStore } from "./pipeline-store.js";
import { PolicyService, type ProjectLookup } from "./policy-service.js";
import type {
  CodeSource,
  DeploymentsPort,
  HoldoutEvaluator,
  JobsPort,
  PipelinePorts,
  RegistryPort,
  SnapshotPort,
  TrackingPort,
} from "./ports.js";
import { PipelineRunService } from "./run-service.js";
import { TriggerService } from "./trigger-service.js";

/** `platform.pipelines`: retrain policies, the trigger, pipeline runs and the loop that drives them. */
export interface PipelineServices {
  policies: PolicyService;
  runs: PipelineRunService;
  triggers: TriggerService;
  engine: PipelineEngine;
  loop: PipelineLoop;
  store: PipelineStore;
}

export interface PipelineServiceDeps {
  store: PipelineStore;
  data: DataServices;
  registry: RegistryPort;
  jobs: JobsPort;
  deployments: DeploymentsPort;
  tracking: TrackingPort;
  /** Serving's model pool (evaluation runs the versions exactly as serving does). */
  models: ModelPool;
  artifacts: ArtifactStore;
  audit: AuditLog;
  projects: ProjectLookup;
  holder: string;
  isLeader: () => boolean;
  tickMs?: number;
  /** Replaceable for tests; defaults: serving-runner evaluation, the bundled example as training code. */
  evaluator?: HoldoutEvaluator;
  code?: CodeSource;
  now?: () => number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

export function snapshotPortOf(data: DataServices): SnapshotPort {
  return {
    create: (datasetId, actor) => data.snapshots.createFor(datasetId, actor),
    find: (id) => data.snapshots.findSnapshot(id),
    manifest: (id) => data.snapshots.manifestOf(id),
    countLabelChangesSince: (datasetId, snapshotId) => data.countLabelChangesSince(datasetId, snapshotId),
    settleFacts: (datasetId) => data.imports.settleFacts(datasetId),
    dataset: (principal, project, dataset) => data.datasets.get(principal, { project, dataset }),
  };
}

export function createPipelineServices(deps: PipelineServiceDeps): PipelineServices {
  const ports: PipelinePorts = {
    snapshots: snapshotPortOf(deps.data),
    registry: deps.registry,
    jobs: deps.jobs,
    deployments: deps.deployments,
    tracking: deps.tracking,
    evaluator: deps.evaluator ?? servingRunnerEvaluator(deps.models, deps.artifacts),
    code: deps.code ?? bundledExampleCode(deps.artifacts),
    audit: deps.audit,
  };
  const engine = new PipelineEngine({
    store: deps.store,
    ports,
    holder: deps.holder,
    now: deps.now,
    log: deps.log,
  });
  const triggers = new TriggerService({
    store: deps.store,
    ports,
    holder: deps.holder,
    now: deps.now,
    log: deps.log,
  });
  const loop = new PipelineLoop({
    store: deps.store,
    engine,
    triggers,
    isLeader: deps.isLeader,
    tickMs: deps.tickMs,
    log: deps.log,
  });
  return {
    policies: new PolicyService({ store: deps.store, ports, projects: deps.projects, now: deps.now }),
    runs: new PipelineRunService({ store: deps.store, engine, ports, projects: deps.projects }),
    triggers,
    engine,
    loop,
    store: deps.store,
  };
}
