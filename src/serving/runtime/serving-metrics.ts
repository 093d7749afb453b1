import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { PredictionOutcome } from "../prediction-log/prediction-record.js";

/** Per deployment and model version (`<model>:<version>`) figures on `/metrics`. */
export class ServingMetrics {
  private readonly predictions: Counter<"deployment" | "version" | "outcome">;
  private readonly latency: Histogram<"deployment" | "version">;
  private readonly confidence: Histogram<"deployment" | "version">;
  private readonly fallbacks: Counter<"deployment" | "version">;
  private readonly weight: Gauge<"deployment" | "version">;
  private readonly logDropped: Counter;
  private pendingOf: () => number = () => 0;

  constructor(registry: Registry) {
    this.predictions = new Counter({
      name: "mlops_predictions_total",
      help: "Predictions by deployment, model version and outcome (success | error | invalid)",
      labelNames: ["deployment", "version", "outcome"] as const,
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "mlops_prediction_duration_seconds",
      help: "Time a model version took to answer (routing, queue, preprocessing, inference, postprocessing)",
      labelNames: ["deployment", "version"] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.confidence = new Histogram({
      name: "mlops_prediction_confidence",
      help: "Score of the top label (classification) or best box (detection)",
      labelNames: ["deployment", "version"] as const,
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1],
      registers: [registry],
    });
    this.fallbacks = new Counter({
      name: "mlops_canary_fallbacks_total",
      help: "Requests a canary failed that the primary answered instead",
      labelNames: ["deployment", "version"] as const,
      registers: [registry],
    });
    this.weight = new Gauge({
      name: "mlops_deployment_traffic_weight",
      help: "Percent of a deployment's traffic each model version gets",
      labelNames: ["deployment", "version"] as const,
      registers: [registry],
    });
    this.logDropped = new Counter({
      name: "mlops_prediction_log_dropped_total",
      help: "Prediction log records dropped because the write buffer was full (database slow or down)",
      registers: [registry],
    });
    const pending = () => this.pendingOf();
    new Gauge({
      name: "mlops_prediction_log_pending",
      help: "Prediction log records waiting in memory for their batched write",
      registers: [registry],
      collect() {
        this.set(pending());
      },
    });
  }

  /** Reports the prediction log writer's queue: `pending` is read at each scrape. */
  watchPredictionLog(pending: () => number): void {
    this.pendingOf = pending;
  }

  predictionLogDropped(count: number): void {
    this.logDropped.inc(count);
  }

  observe(
    deployment: string,
    version: string,
    outcome: PredictionOutcome,
    seconds: number,
    score: number | null,
  ): void {
    this.predictions.inc({ deployment, version, outcome });
    if (outcome !== "success") return;
    this.latency.observe({ deployment, version }, seconds);
    if (score !== null && Number.isFinite(score)) this.confidence.observe({ deployment, version }, score);
  }

  fallback(deployment: string, version: string): void {
    this.fallbacks.inc({ deployment, version });
  }

  /** Replaces the weight gauge with the current split of every deployment. */
  setWeights(weights: Array<{ deployment: string; version: string; weight: number }>): void {
    this.weight.reset();
    for (const w of weights) this.weight.set({ deployment: w.deployment, version: w.version }, w.weight);
  }
}
