import { randomUUID } from "node:crypto";
import type { IdentityService } from "../../auth/identity-service.js";
import type { Principal } from "../../auth/principal.js";
import { DomainError, InputError, NotFoundError } from "../../errors.js";
import { type Deployment, modelVersionKey } from "../deployments/deployment.js";
import { lookupFor, resolveDeploymentRef, parseDeploymentRef } from "../deployments/deployment-ref.js";
import type { PredictionLogWriter } from "../prediction-log/prediction-log-writer.js";
import type { PredictionOutcome } from "../prediction-log/prediction-record.js";
import { chooseRoute } from "../routing/traffic-split.js";
import type { ImagePrediction, ModelRunner, TensorInput, TensorOutput } from "../runner/model-runner.js";
import type { DeploymentTable } from "./deployment-table.js";
import type { LoadedVersion, ModelPool } from "./model-pool.js";
import { hashImage, hashTensors } from "./input-hash.js";
import { type OutputSummary, summarizeImage, summarizeTensors } from "./output-summary.js";
import type { ServingMetrics } from "./serving-metrics.js";

/** The model failed to answer (load failure, runtime error, non-finite output): the server's fault, 502. */
export class ModelFailedError extends DomainError {
  readonly status = 502;
  readonly code = "MODEL_FAILED";
}

export type Endpoint = "oip" | "predict" | "label-studio";

export interface PredictCall {
  principal: Principal;
  endpoint: Endpoint;
  /** `X-Routing-Key`: the same key always lands on the same version for a given weight. */
  routingKey?: string;
  /** Ask one version of the deployment explicitly (no split, no fallback). */
  version?: number;
}

/** Which version answered, and whether the canary was tried first. */
export interface Answered {
  deployment: string;
  modelName: string;
  version: number;
  /** `<model>:<version>` */
  modelVersion: string;
  /** The canary answered. */
  canary: boolean;
  /** The canary failed and the primary answered instead. */
  fellBack: boolean;
}

export interface ImagesAnswer extends Answered {
  predictions: Array<{ predictionId: string; prediction: ImagePrediction }>;
}

export interface TensorsAnswer extends Answered {
  predictionId: string;
  outputs: TensorOutput[];
  /** Tensor metadata of the version that answered. */
  model: LoadedVersion;
}

interface Target {
  versionId: string;
  version: number;
  canary: boolean;
}

interface Attempt<T> {
  value: T;
  summaries: OutputSummary[];
}

/**
 * The online request path: deployment -> version (traffic split) -> runner -> answer, with metrics and
 * the prediction log. A canary that fails is not the caller's problem: the primary answers and the
 * failure counts against the canary. Input the primary refuses too is the caller's fault (`invalid`).
 */
export class Predictor {
  constructor(
    private readonly table: DeploymentTable,
    private readonly pool: ModelPool,
    private readonly identity: IdentityService,
    private readonly log: PredictionLogWriter,
    private readonly metrics: ServingMetrics,
  ) {}

  /**
   * The deployment a reference (`name` or `project/name`, deployment-ref.ts) means, if the caller may
   * predict with it (the permission is cached briefly: this runs on every request).
   */
  async deploymentFor(name: string, principal: Principal): Promise<Deployment> {
    const ref = parseDeploymentRef(name);
    const candidates = await this.table.named(ref.name);
    // Hot path: a bare name used by one project only, or `<project id>/name`, and the caller may predict
    // there (decision cached). Anything else takes the full resolution below.
    const quick =
      ref.project === undefined
        ? candidates.length === 1
          ? candidates[0]
          : undefined
        : candidates.find((d) => d.projectId === ref.project);
    if (quick) {
      const allowed = await this.identity.authorizeProjectCached(principal, quick.projectId, "predict").then(
        () => true,
        () => false,
      );
      if (allowed) return quick;
    }
    const d = await resolveDeploymentRef(
      name,
      lookupFor(this.identity, principal, async () => candidates),
    );
    await this.identity.authorizeProjectCached(principal, d.projectId, "predict");
    return d;
  }

  async predictImages(
    name: string,
    images: Uint8Array[],
    call: PredictCall,
    topK?: number,
  ): Promise<ImagesAnswer> {
    const d = await this.deploymentFor(name, call.principal);
    const hashes = images.map(hashImage);
    const result = await this.serve(d, call, hashes, async (model, runner) => {
      const { predictions } = await runner.predictImages(model.key, images, { topK });
      const summaries = predictions.map(summarizeImage);
      if (summaries.some((s) => s.nonFinite))
        throw new ModelFailedError("the model answered non-finite scores");
      return { value: predictions, summaries };
    });
    return {
      ...result.answered,
      predictions: result.value.map((prediction, i) => ({ predictionId: result.ids[i], prediction })),
    };
  }

  async inferTensors(
    name: string,
    inputs: TensorInput[],
    call: PredictCall,
    outputs?: string[],
  ): Promise<TensorsAnswer> {
    const d = await this.deploymentFor(name, call.principal);
    const result = await this.serve(d, call, [hashTensors(inputs)], async (model, runner) => {
      const r = await runner.inferTensors(model.key, inputs, { outputs });
      return { value: { outputs: r.outputs, model }, summaries: [summarizeTensors(r.outputs)] };
    });
    return {
      ...result.answered,
      predictionId: result.ids[0],
      outputs: result.value.outputs,
      model: result.value.model,
    };
  }

  /** The loaded primary (or `version`) of a deployment, loading it if needed: for metadata. */
  async modelOf(
    name: string,
    principal: Principal,
    version?: number,
  ): Promise<{ deployment: Deployment; model: LoadedVersion }> {
    const d = await this.deploymentFor(name, principal);
    const [target] = this.targets(d, { principal, endpoint: "oip", version });
    return { deployment: d, model: await this.ensure(target) };
  }

  /**
   * Whether every version the deployment (or `version`) serves is loaded in this process; starts loading
   * what is not and waits up to `waitMs` for it.
   */
  async ready(name: string, principal: Principal, version?: number, waitMs = 2000): Promise<boolean> {
    const d = await this.deploymentFor(name, principal);
    const ids =
      version !== undefined
        ? this.targets(d, { principal, endpoint: "oip", version }).map((t) => t.versionId)
        : [d.primaryVersionId, ...(d.canaryVersionId ? [d.canaryVersionId] : [])];
    const loads = Promise.all(ids.map((id) => this.pool.ensure(id))).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), waitMs);
    });
    try {
      return await Promise.race([loads, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private targets(d: Deployment, call: PredictCall): Target[] {
    const primary: Target = { versionId: d.primaryVersionId, version: d.primaryVersion, canary: false };
    const canary: Target | undefined =
      d.canaryVersionId && d.canaryVersion !== null
        ? { versionId: d.canaryVersionId, version: d.canaryVersion, canary: true }
        : undefined;
    if (call.version !== undefined) {
      const chosen = [primary, canary].find((t) => t?.version === call.version);
      if (!chosen) {
        const serves = [primary, canary]
          .filter(Boolean)
          .map((t) => t?.version)
          .join(", ");
        throw new NotFoundError(
          `deployment ${d.name} does not serve version ${call.version} (it serves ${serves})`,
        );
      }
      return [chosen];
    }
    if (canary && chooseRoute(d.canaryWeight, call.routingKey) === "canary") return [canary, primary];
    return [primary];
  }

  private async ensure(target: Target): Promise<LoadedVersion> {
    try {
      return await this.pool.ensure(target.versionId);
    } catch (err) {
      // Whatever keeps a version from loading (missing files, bad model.json, bad ONNX) is the server's fault.
      throw new ModelFailedError(
        `model version ${target.version} cannot be loaded: ${(err as Error).message}`,
      );
    }
  }

  private async serve<T>(
    d: Deployment,
    call: PredictCall,
    hashes: string[],
    run: (model: LoadedVersion, runner: ModelRunner) => Promise<Attempt<T>>,
  ): Promise<{ answered: Answered; value: T; ids: string[] }> {
    const targets = this.targets(d, call);
    let canaryFailure: { target: Target; error: Error; ms: number } | undefined;
    for (const [i, target] of targets.entries()) {
      let started = performance.now();
      this.pool.beginUse(target.versionId);
      try {
        const model = await this.ensure(target);
        // Latency is the version's answer time: a first load (once per process) would skew its p95.
        started = performance.now();
        const attempt = await run(model, await this.pool.runner());
        const ms = performance.now() - started;
        const ids = hashes.map(() => randomUUID());
        for (const [j, s] of attempt.summaries.entries()) {
          this.write(d, call, target, ids[j], hashes[j], "success", ms, s, null);
        }
        if (canaryFailure) this.writeFailure(d, call, canaryFailure, hashes, "error");
        return {
          answered: {
            deployment: d.name,
            modelName: d.modelName,
            version: target.version,
            modelVersion: modelVersionKey(d.modelName, target.version),
            canary: target.canary,
            fellBack: i > 0,
          },
          value: attempt.value,
          ids,
        };
      } catch (err) {
        const error = err as Error;
        const ms = performance.now() - started;
        if (i < targets.length - 1) {
          // The canary failed: the primary answers; whose fault it was shows once the primary has tried.
          canaryFailure = { target, error, ms };
          this.metrics.fallback(d.name, modelVersionKey(d.modelName, target.version));
          continue;
        }
        const outcome: PredictionOutcome = error instanceof InputError ? "invalid" : "error";
        if (canaryFailure) {
          const canaryOutcome =
            outcome === "invalid" && canaryFailure.error instanceof InputError ? "invalid" : "error";
          this.writeFailure(d, call, canaryFailure, hashes, canaryOutcome);
        }
        this.writeFailure(d, call, { target, error, ms }, hashes, outcome);
        if (error instanceof DomainError) throw error;
        throw new ModelFailedError(`model version ${target.version} failed: ${error.message}`);
      } finally {
        this.pool.endUse(target.versionId);
      }
    }
    throw new Error("unreachable: a deployment always has a primary");
  }

  private writeFailure(
    d: Deployment,
    call: PredictCall,
    f: { target: Target; error: Error; ms: number },
    hashes: string[],
    outcome: PredictionOutcome,
  ): void {
    for (const hash of hashes)
      this.write(d, call, f.target, randomUUID(), hash, outcome, f.ms, null, f.error.message);
  }

  private write(
    d: Deployment,
    call: PredictCall,
    target: Target,
    id: string,
    inputSha256: string,
    outcome: PredictionOutcome,
    ms: number,
    summary: OutputSummary | null,
    error: string | null,
  ): void {
    const modelVersion = modelVersionKey(d.modelName, target.version);
    this.metrics.observe(d.name, modelVersion, outcome, ms / 1000, summary?.score ?? null);
    this.log.record({
      id,
      deploymentId: d.id,
      deployment: d.name,
      modelVersionId: target.versionId,
      modelVersion,
      canary: target.canary,
      createdAt: Date.now(),
      inputSha256,
      outcome,
      topLabel: summary?.topLabel ?? null,
      score: summary?.score ?? null,
      output: summary?.output ?? null,
      latencyMs: ms,
      routingKey: call.routingKey ?? null,
      endpoint: call.endpoint,
      error: error ? error.slice(0, 1000) : null,
    });
  }
}
