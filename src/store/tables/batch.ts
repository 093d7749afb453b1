/** Batch prediction (pseudo-labeling) jobs: the batch, its frozen inputs, its chunk checkpoints, its results. */
export interface BatchPredictionsTable {
  id: string;
  project_id: string;
  model_id: string;
  model_name: string;
  model_version: number;
  version_id: string;
  /** classification | detection (from the version's model.json). */
  task: string;
  /** JSON array of the model's class names. */
  classes: string;
  /** sha256 of the version's model.onnx, and its model.json text, frozen at creation. */
  model_sha256: string;
  descriptor: string;
  /** dataset | input */
  source_kind: string;
  dataset_id: string | null;
  dataset_name: string | null;
  /** sha256 of the uploaded image archive (input mode). */
  input_digest: string | null;
  total: number;
  chunk_size: number;
  chunk_count: number;
  /** Inference threads of the worker (= CPU cores requested from the scheduler). */
  workers: number;
  state: string;
  state_reason: string;
  /** The scheduler job running (or that last ran) the worker. */
  job_id: string | null;
  /** Jobs submitted for this batch (1 + resumes). */
  jobs_submitted: number;
  chunks_done: number;
  images_done: number;
  /**
   * The images/s mark of the current worker attempt: when its first chunk was stored and how many images
   * were done then. Measured from the first chunk, so the worker's start-up (model download and load)
   * does not count as throughput; null until the attempt stores a chunk.
   */
  rate_since: number | null;
  rate_images_since: number;
  last_chunk_at: number | null;
  created_at: number;
  created_by: string;
  started_at: number | null;
  finished_at: number | null;
  updated_at: number;
}

export interface BatchPredictionInputsTable {
  batch_id: string;
  /** 0-based, dense: chunk i holds positions [i * chunk_size, (i + 1) * chunk_size). */
  position: number;
  /** Dataset item key, or the file's path relative to the input directory. */
  item_key: string;
  item_id: string | null;
  sha256: string | null;
  url: string | null;
}

export interface BatchPredictionChunksTable {
  batch_id: string;
  chunk_index: number;
  items: number;
  job_id: string | null;
  attempt: number;
  /** Worker-measured time for the chunk (fetch + inference), ms. */
  duration_ms: number;
  completed_at: number;
}

export interface BatchPredictionResultsTable {
  batch_id: string;
  position: number;
  chunk_index: number;
  item_key: string;
  item_id: string | null;
  /** JSON: the prediction (classification labels or normalized boxes, with the image size). */
  prediction: string;
  top_label: string | null;
  score: number | null;
  created_at: number;
}

export interface BatchTables {
  batch_predictions: BatchPredictionsTable;
  batch_prediction_inputs: BatchPredictionInputsTable;
  batch_prediction_chunks: BatchPredictionChunksTable;
  batch_prediction_results: BatchPredictionResultsTable;
}
