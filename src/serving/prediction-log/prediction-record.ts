/** One served prediction (or a failed attempt at one), as the prediction log keeps it. */
export interface PredictionRecord {
  /** Returned to the caller; labels refer to it (`prediction.id` / Label Studio `meta.mlops_prediction_id`). */
  id: string;
  deploymentId: string;
  deployment: string;
  modelVersionId: string;
  /** `<model>:<version>`, the key label agreement is counted under. */
  modelVersion: string;
  canary: boolean;
  createdAt: number;
  /** sha256 of the input (image bytes, or the tensors' names, shapes, types and values). */
  inputSha256: string;
  /** success: answered; error: the model failed (counts against the version); invalid: the caller's input was bad. */
  outcome: PredictionOutcome;
  /** Top label (classification), or the best box's label (detection). */
  topLabel: string | null;
  /** Its score. */
  score: number | null;
  /** Compact output: `{labels:[...]}` top-k, `{boxes:[...]}`, or `{outputs:[names and shapes]}` for tensors. */
  output: Record<string, unknown> | null;
  latencyMs: number;
  routingKey: string | null;
  /** Which surface served it: oip, predict, label-studio. */
  endpoint: string;
  error: string | null;
}

export type PredictionOutcome = "success" | "error" | "invalid";

/** Figures of one version over a window, for analysis and `deploy status`. */
export interface VersionWindowStats {
  /** success + error (invalid inputs are the caller's fault and are left out). */
  requests: number;
  errors: number;
  errorRate: number;
  /** Over successful requests; null without any. */
  p50Ms: number | null;
  p95Ms: number | null;
  meanScore: number | null;
}

export interface PredictionStore {
  insertMany(records: PredictionRecord[]): Promise<void>;
  windowStats(query: {
    deploymentId: string;
    modelVersionId: string;
    since: number;
    until?: number;
  }): Promise<VersionWindowStats>;
  find(id: string): Promise<PredictionRecord | undefined>;
  /** Newest first. */
  list(query: { deploymentId: string; limit: number; before?: number }): Promise<PredictionRecord[]>;
}
