/** Reply shapes of the public API the pages read (see the server's OpenAPI document at /docs). */

export interface Experiment {
  id: string;
  name: string;
  lifecycleStage: string;
  creationTime: number;
  lastUpdateTime: number;
  createdBy: string;
}

export interface MetricValue {
  value: number | string;
  step: number;
  timestamp: number;
}

export interface Run {
  id: string;
  name: string;
  experimentId: string;
  status: string;
  startTime: number;
  endTime: number | null;
  user: string;
  params: Record<string, string>;
  metrics: Record<string, MetricValue>;
  tags: Record<string, string>;
  lineage: { datasetSnapshot?: string; baseModelVersion?: string; codeRef?: string; jobId?: string };
}

export interface HistoryPoint {
  step: number;
  timestamp: number;
  value: number;
  min: number;
  max: number;
  count: number;
}

export interface MetricHistory {
  key: string;
  mode: "raw" | "buckets" | "sampled";
  covered: number;
  points: HistoryPoint[];
}

export interface ArtifactEntry {
  path: string;
  isDir: boolean;
  size?: number;
  sha256?: string;
}

export interface Gate {
  metric: string;
  direction: "higher" | "lower";
  min?: number;
  max?: number;
  maxRegression?: number;
  require?: "platform" | "any";
}

export interface Model {
  id: string;
  name: string;
  description: string;
  gate: Gate | null;
  aliases: Record<string, number>;
  updatedAt: number;
}

export interface Version {
  version: number;
  stage: string;
  source: string;
  runId: string | null;
  status: string;
  createdAt: number;
  createdBy: string;
  aliases: string[];
}

export interface Decision {
  passed: boolean;
  reasons: string[];
  notes: string[];
  metric?: string;
  value?: number;
  baseline?: { version: number; recordId: string; value: number };
}

export interface Validation {
  id: string;
  version: number;
  snapshot: string;
  metrics: Record<string, number>;
  createdBy: string;
  createdAt: number;
  passed: boolean;
  decision: Decision;
  provenance: "platform" | "reported";
  evaluation: { split: string; itemCount: number; evaluator: string } | null;
}

export interface Transition {
  id: number;
  version: number;
  fromStage: string;
  toStage: string;
  actor: string;
  at: number;
  reason: string;
  evidence: string | null;
}

export interface Standing {
  passed: boolean;
  message: string;
  record?: Validation;
  decision?: Decision;
}

export interface Deployment {
  name: string;
  modelName: string;
  environment: string;
  state: string;
  primaryVersion: number;
  canaryVersion: number | null;
  canaryWeight: number;
  failures: number;
  updatedAt: number;
  plan: { stepWeight: number; maxWeight: number; intervalSeconds: number; auto: boolean } | null;
}

export interface VersionStats {
  role: string;
  version: number;
  weight: number;
  loaded: boolean;
  loadError: string | null;
  stats: {
    requests: number;
    errors: number;
    errorRate: number;
    p50Ms: number | null;
    p95Ms: number | null;
  };
  agreement: { accepted: number; corrected: number; total: number; rate: number | null } | null;
}

export interface DeploymentStatus {
  deployment: Deployment;
  since: number;
  nextAnalysisAt: number | null;
  versions: VersionStats[];
}

export interface DeploymentEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  fromState: string | null;
  toState: string;
  reason: string;
  primaryVersion: number;
  canaryVersion: number | null;
  canaryWeight: number;
  details: { analysis?: { verdict?: string; errorRate?: number; agreement?: number | null } };
}

export interface Job {
  id: string;
  name: string;
  state: string;
  stateReason: string;
  priority: number;
  attempt: number;
  replicas: number;
  resources: { cpu: number; memoryMiB: number; gpus: number; gpuType?: string };
  createdBy?: string;
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  command: string[];
  runId?: string;
}

export interface Replica {
  replicaId: string;
  attempt: number;
  replicaIndex: number;
  nodeId: string;
  gpuUuids: string[];
  state: string;
  exitCode: number | null;
  message: string | null;
  /** The latest resource sample while it runs. */
  usage?: {
    cpuCores?: number;
    memoryBytes?: number;
    gpus?: Array<{ index: number; utilizationPercent: number; memoryUsedMiB: number }>;
    sampledAt: string;
  };
}

export interface JobEvent {
  id: number;
  at: number;
  from: string | null;
  to: string;
  attempt: number;
  actor: string;
  reason: string;
}

export interface Gpus {
  source: string;
  devices: Array<{
    index: number;
    uuid: string;
    type: string;
    name?: string;
    memoryMiB?: number;
    simulated: boolean;
    nodeId: string;
    heldBy: { jobId: string; jobName: string; replicaIndex: number } | { otherProject: true } | null;
  }>;
  nodes: Array<{
    id: string;
    cpu: number;
    memoryMiB: number;
    cpuHeld: number;
    memoryMiBHeld: number;
    gpus: number;
  }>;
  runtime: { name: string; sandbox: string; memoryLimit: string };
}

export interface Dataset {
  id: string;
  name: string;
  task: string;
  classes: string[];
  splitFractions: { train: number; val: number; holdout: number };
}

export interface DatasetStats {
  items: number;
  labeled: number;
  bySplit: { train: number; val: number; holdout: number };
  revisions: number;
}

export interface Snapshot {
  id: string;
  itemCount: number;
  splitCounts: { train: number; val: number; holdout: number };
  createdAt: number;
  createdBy: string;
}

export interface SnapshotDiff {
  added: Array<{ key: string }>;
  removed: Array<{ key: string }>;
  relabeled: Array<{ key: string }>;
  revised: number;
  unchanged: number;
  classesAdded: string[];
}

export interface Policy {
  modelName: string;
  datasetName: string;
  minNewLabels: number;
  cooldownSeconds: number;
  paused: boolean;
  lastFiredAt: number | null;
}

export interface TriggerStatus {
  newLabels: number;
  fires: boolean;
  reason: string;
  cooldownUntil?: number;
  activeRun: string | null;
  productionVersion: number | null;
}

export interface PipelineRun {
  id: string;
  modelName: string;
  state: string;
  stateReason: string;
  createdAt: number;
  finishedAt: number | null;
  candidateVersion: number | null;
}

export interface PipelineStep {
  id: number;
  step: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  reason: string | null;
  jobId: string | null;
}
