import { availableParallelism } from "node:os";
import path from "node:path";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { IdentityService } from "../auth/identity-service.js";
import type { Principal } from "../auth/principal.js";
import type { EventPublisher } from "../events/events.js";
import { systemPrincipal } from "../registry/registry-service.js";
import type { Registry } from "prom-client";
import type { AgreementSource } from "./analysis/canary-analysis.js";
import { CanaryAnalysisLoop } from "./analysis/canary-loop.js";
import { DeploymentChanges } from "./deployments/change-recorder.js";
import { DeploymentService } from "./deployments/deployment-service.js";
import { type DeploymentStatus, deploymentStatus } from "./deployments/deployment-status.js";
import type { DeploymentStore } from "./deployments/deployment-store.js";
import type { RegistryPort } from "./deployments/version-rules.js";
import { PredictionLogWriter } from "./prediction-log/prediction-log-writer.js";
import type { PredictionStore } from "./prediction-log/prediction-record.js";
import { OnnxModelRunner } from "./runner/onnx-model-runner.js";
import { deploymentParityCheck } from "./runner/parity.js";
import { DeploymentTable } from "./runtime/deployment-table.js";
import { ModelPool } from "./runtime/model-pool.js";
import { Predictor } from "./runtime/predictor.js";
import { ServingMetrics } from "./runtime/serving-metrics.js";
import { registryVersionSource, type VersionLookup } from "./runtime/version-source.js";

/** Per-request inference budget under which tensor requests skip the worker hop. */
const INLINE_RUN_MS = 0.2;

export interface ServingDeps {
  deployments: DeploymentStore;
  predictions: PredictionStore;
  /** The registry's read side by version id (files of a version). */
  versions: VersionLookup;
  registry: RegistryPort;
  artifacts: ArtifactStore;
  identity: IdentityService;
  events: EventPublisher;
  metrics: Registry;
  /** Label agreement for the canary analysis (the data domain); analysis skips agreement without it. */
  agreement?: AgreementSource;
  isLeader: () => boolean;
  /** Where model files from a remote artifact store are cached. */
  dataDir: string;
  /** Extra hosts (besides this server) that Label Studio image URLs may point at. */
  imageHosts?: string[];
  /** Inference worker threads (default min(2, cores)). */
  workers?: number;
  /** Canary loop tick and routing-table poll (ms); tests shorten them. */
  canaryTickMs?: number;
  pollMs?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * Serving as the platform sees it (`platform.serving`). For batch prediction and other in-process users:
 * `models.acquire(versionId)` gives `{runner, model, release}` — the version loaded once per process,
 * kept while held; run `runner.predictImages(model.key, images)` / `runner.inferTensors(model.key, ...)`.
 */
export interface ServingServices {
  deployments: DeploymentService;
  predictor: Predictor;
  table: DeploymentTable;
  models: ModelPool;
  predictionLog: PredictionLogWriter;
  predictions: PredictionStore;
  canary: CanaryAnalysisLoop;
  imageHosts: string[];
  status(principal: Principal, name: string, since?: number): Promise<DeploymentStatus>;
  /** Background work: the routing-table poll (every process) and the canary analysis (leader only). */
  loops: Array<{ name: string; start(): void; stop(): Promise<void> }>;
  close(): Promise<void>;
}

export function createServingServices(deps: ServingDeps): ServingServices {
  const log = deps.log;
  const metrics = new ServingMetrics(deps.metrics);
  const models = new ModelPool({
    runner: () =>
      OnnxModelRunner.create({
        workers: deps.workers ?? Math.min(2, availableParallelism()),
        // A model whose small request runs in under 0.2 ms answers from this thread: two thread hops
        // would cost more (docs/architecture/serving.md, the request path).
        inlineRunMs: INLINE_RUN_MS,
      }),
    source: registryVersionSource(deps.versions, deps.artifacts, path.join(deps.dataDir, "serving-cache")),
    log,
  });
  const table = new DeploymentTable(deps.deployments, models, metrics, { pollMs: deps.pollMs, log });
  const predictionLog = new PredictionLogWriter(deps.predictions, {
    onError: (err, lost) => log?.("prediction log write failed", { error: err.message, lost }),
    onDrop: (count) => metrics.predictionLogDropped(count),
  });
  metrics.watchPredictionLog(() => predictionLog.pending);
  const changes = new DeploymentChanges(deps.deployments, deps.events, () => table.refresh());
  const deployments = new DeploymentService({
    store: deps.deployments,
    changes,
    identity: deps.identity,
    registry: deps.registry,
    events: deps.events,
    onChanged: () => table.refresh(),
    parity: deploymentParityCheck(deps.artifacts),
  });
  const canary = new CanaryAnalysisLoop({
    store: deps.deployments,
    predictions: deps.predictions,
    changes,
    registry: deps.registry,
    principal: systemPrincipal("canary-analysis"),
    agreement: deps.agreement,
    isLeader: deps.isLeader,
    flushLog: () => predictionLog.flush(),
    tickMs: deps.canaryTickMs,
    log,
  });
  const predictor = new Predictor(table, models, deps.identity, predictionLog, metrics);
  return {
    deployments,
    predictor,
    table,
    models,
    predictionLog,
    predictions: deps.predictions,
    canary,
    imageHosts: deps.imageHosts ?? [],
    async status(principal, name, since) {
      const d = await deployments.get(principal, name);
      return deploymentStatus(
        d,
        {
          predictions: deps.predictions,
          pool: models,
          agreement: deps.agreement,
          flushLog: () => predictionLog.flush(),
        },
        Date.now(),
        since,
      );
    },
    loops: [table, canary],
    async close() {
      await table.stop();
      await canary.stop();
      await predictionLog.close();
      await models.close();
    },
  };
}
