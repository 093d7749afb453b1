/**
 * A deployment: an endpoint name serving one registered model. The primary version takes the traffic the
 * canary does not; a canary version gets `canaryWeight` percent of it while it is analysed. Names are
 * unique platform-wide because the Open Inference Protocol addresses a model by name alone.
 */
export const ENVIRONMENTS = ["production", "dev"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export const DEPLOYMENT_STATES = ["stable", "canarying", "promoting", "rolled_back"] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

/** How a canary earns its traffic. Weights are percents (0-100]; rates and agreement are fractions 0-1. */
export interface AnalysisPlan {
  /** Seconds between two analyses (one step). */
  intervalSeconds: number;
  /** Percent added to the canary's weight after a passing step. */
  stepWeight: number;
  /** The weight at which a passing step promotes instead of stepping further. */
  maxWeight: number;
  /** Canary requests a step needs before it is judged (fewer: the step waits). */
  minRequests: number;
  /** Highest canary error rate that passes. */
  maxErrorRate: number;
  /** Highest canary p95 latency as a multiple of the primary's p95 in the same step. */
  maxP95LatencyRatio: number;
  /**
   * Successful requests each version needs in a step before latency is compared: a p95 over a handful of
   * requests is noise, and a better candidate must not be rolled back on it. Optional for stored plans.
   */
  minLatencySamples?: number;
  /** Lowest share of the canary's predictions that labelers accepted unchanged (checked once minLabels exist). */
  minAgreement?: number;
  /** Labels needed before agreement counts. */
  minLabels?: number;
  /**
   * One-sided confidence that agreement is below minAgreement before it fails a step (Wilson score bound;
   * default 0.9; 0.5 compares the raw share).
   */
  agreementConfidence?: number;
  /** Failed steps after which the canary is rolled back. */
  failureLimit: number;
  /** true: the analysis loop steps, promotes and rolls back by itself; false: only people do. */
  auto: boolean;
}

/** The Label Studio project wiring, from `POST /setup` (the project's label config). */
export interface LabelStudioSetup {
  /** The control tag: `<Choices name=...>` or `<RectangleLabels name=...>`. */
  fromName: string;
  /** The object tag it labels: `<Image name=...>`. */
  toName: string;
  type: "choices" | "rectanglelabels";
  /** Task data key of the image (`$image` in `<Image value="$image">`). */
  dataKey: string;
  /** Label Studio's project id, as it sent it. */
  project?: string;
  /** Label Studio's own URL (for relative image paths), when it sent one. */
  hostname?: string;
}

export interface Deployment {
  id: string;
  name: string;
  projectId: string;
  modelId: string;
  modelName: string;
  environment: Environment;
  state: DeploymentState;
  primaryVersionId: string;
  primaryVersion: number;
  canaryVersionId: string | null;
  canaryVersion: number | null;
  /** Percent of requests routed to the canary (0 when there is none). */
  canaryWeight: number;
  plan: AnalysisPlan | null;
  /** When the canary started, and when its current step (analysis window) started. */
  canaryStartedAt: number | null;
  stepStartedAt: number | null;
  /** Failed analysis steps of the current canary. */
  failures: number;
  labelStudio: LabelStudioSetup | null;
  /** Bumped by every change; changes are conditional on it (optimistic concurrency). */
  revision: number;
  createdAt: number;
  updatedAt: number;
  createdBy: string;
}

/** One recorded change of a deployment (its history); the audit log gets the same. */
export interface DeploymentHistoryEntry {
  id: number;
  deploymentId: string;
  at: number;
  actor: string;
  action: DeploymentAction;
  fromState: DeploymentState | null;
  toState: DeploymentState;
  reason: string;
  primaryVersion: number;
  canaryVersion: number | null;
  canaryWeight: number;
  /** The figures behind a decision (analysis), the plan, whatever explains the change. */
  details: Record<string, unknown>;
}

export const DEPLOYMENT_ACTIONS = [
  "create",
  "start_canary",
  "set_weight",
  "record_analysis",
  "begin_promotion",
  "complete_promotion",
  "abort_promotion",
  "rollback",
  "configure_label_studio",
] as const;
export type DeploymentAction = (typeof DEPLOYMENT_ACTIONS)[number];

/** `<model name>:<version number>`: how predictions, metrics and labels name a model version. */
export function modelVersionKey(modelName: string, version: number): string {
  return `${modelName}:${version}`;
}

const DEPLOYMENT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function isDeploymentName(value: unknown): value is string {
  return typeof value === "string" && DEPLOYMENT_NAME.test(value);
}
