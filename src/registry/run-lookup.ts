/**
 * What the registry needs from tracking: a run's identity and the files under one of its artifact
 * directories. Tracking implements it; the registry never reads tracking's tables.
 */
export interface RunRef {
  runId: string;
  experimentId: string;
  projectId: string;
  /** e.g. `mlflow-artifacts:/<experiment>/<run>/artifacts` */
  artifactUri: string;
}

export interface RunArtifactFile {
  /** Relative to the run's artifact root, e.g. `model/model.onnx`. */
  path: string;
  sha256: string;
  size: number;
}

export interface RunLookup {
  getRun(runId: string): Promise<RunRef | undefined>;
  /** Every file at any depth under `dir` (relative to the run's artifact root). */
  listArtifactFiles(runId: string, dir: string): Promise<RunArtifactFile[]>;
}
