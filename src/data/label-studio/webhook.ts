import { InputError } from "../../errors.js";
import type { DatasetTask, PredictionLink } from "../model.js";
import { labelFromLabelStudioResult } from "./results.js";

/**
 * Label Studio's outgoing webhooks, parsed from untrusted JSON. Shapes (Label Studio docs, "Webhook event
 * format reference"):
 *   {"action": "ANNOTATION_CREATED" | "ANNOTATION_UPDATED", "annotation": {id, result[], task (id),
 *    completed_by, updated_at, was_cancelled, prediction?, parent_prediction?}, "task"?: {id, data, meta,
 *    predictions?}, "project": {id, ...}}
 *   {"action": "ANNOTATIONS_DELETED" | "ANNOTATION_DELETED", "annotations": [{id}], "project": {...}}
 */

export const ANNOTATION_ACTIONS = ["ANNOTATION_CREATED", "ANNOTATION_UPDATED"] as const;
export const DELETE_ACTIONS = ["ANNOTATIONS_DELETED", "ANNOTATION_DELETED"] as const;

export interface TaskReference {
  /** Label Studio's task id. */
  taskId: string | null;
  /** Our item id or key, from task.data.mlops_item or task.meta.mlops_item. */
  itemRef: string | null;
  /** task.data.image (or the only string field of task.data). */
  image: string | null;
}

export interface AnnotationEvent {
  kind: "annotation";
  action: (typeof ANNOTATION_ACTIONS)[number];
  annotationId: string;
  updatedAt: string | null;
  result: unknown[];
  wasCancelled: boolean;
  author: string;
  task: TaskReference;
  prediction: Record<string, unknown> | null;
}

export interface DeleteEvent {
  kind: "delete";
  annotationIds: string[];
}

export type LabelStudioEvent = AnnotationEvent | DeleteEvent;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function idOf(v: unknown): string | null {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "string" && v !== "" && v.length <= 200) return v;
  return null;
}

export function parseLabelStudioWebhook(body: unknown): LabelStudioEvent {
  if (!isObject(body)) throw new InputError("webhook body must be a JSON object");
  const action = body.action;
  if (typeof action !== "string") throw new InputError('webhook body has no "action"');
  if ((DELETE_ACTIONS as readonly string[]).includes(action)) return parseDelete(body);
  if (!(ANNOTATION_ACTIONS as readonly string[]).includes(action)) {
    throw new InputError(
      `unsupported Label Studio action '${action.slice(0, 60)}': send ${[...ANNOTATION_ACTIONS, ...DELETE_ACTIONS].join(", ")}`,
    );
  }
  const annotation = body.annotation;
  if (!isObject(annotation)) throw new InputError(`${action} needs an "annotation" object`);
  const annotationId = idOf(annotation.id);
  if (!annotationId) throw new InputError("annotation.id is missing");
  if (!Array.isArray(annotation.result)) throw new InputError("annotation.result must be an array");
  const task = isObject(body.task) ? body.task : null;
  const prediction = pickPrediction(annotation, task);
  return {
    kind: "annotation",
    action: action as AnnotationEvent["action"],
    annotationId,
    updatedAt: typeof annotation.updated_at === "string" ? annotation.updated_at : null,
    result: annotation.result,
    wasCancelled: annotation.was_cancelled === true,
    author: authorOf(annotation.completed_by),
    task: taskReference(task, annotation.task),
    prediction,
  };
}

function parseDelete(body: Record<string, unknown>): DeleteEvent {
  const list = Array.isArray(body.annotations)
    ? body.annotations
    : isObject(body.annotation)
      ? [body.annotation]
      : body.id !== undefined
        ? [{ id: body.id }]
        : null;
  if (!list || list.length === 0) throw new InputError(`${body.action} needs "annotations": [{"id": ...}]`);
  const ids = list.map((a) => (isObject(a) ? idOf(a.id) : null));
  if (ids.some((id) => id === null)) throw new InputError("every deleted annotation needs an id");
  return { kind: "delete", annotationIds: ids as string[] };
}

function authorOf(completedBy: unknown): string {
  if (isObject(completedBy)) {
    if (typeof completedBy.email === "string") return `label-studio:${completedBy.email}`;
    const id = idOf(completedBy.id);
    if (id) return `label-studio:user:${id}`;
  }
  const id = idOf(completedBy);
  return id ? `label-studio:user:${id}` : "label-studio";
}

const ITEM_FIELD = "mlops_item";

function taskReference(task: Record<string, unknown> | null, annotationTask: unknown): TaskReference {
  const taskId = idOf(task?.id) ?? idOf(isObject(annotationTask) ? annotationTask.id : annotationTask);
  const data = isObject(task?.data) ? task.data : {};
  const meta = isObject(task?.meta) ? task.meta : {};
  const itemRef = idOf(data[ITEM_FIELD]) ?? idOf(meta[ITEM_FIELD]);
  let image = typeof data.image === "string" ? data.image : null;
  if (!image) {
    const strings = Object.values(data).filter((v): v is string => typeof v === "string");
    if (strings.length === 1) image = strings[0];
  }
  return { taskId, itemRef, image };
}

/** The prediction the labeler saw: annotation.prediction, else the task prediction it started from. */
function pickPrediction(
  annotation: Record<string, unknown>,
  task: Record<string, unknown> | null,
): Record<string, unknown> | null {
  const own = annotation.prediction;
  if (isObject(own) && (own.result !== undefined || own.model_version !== undefined)) return own;
  const predictions = Array.isArray(task?.predictions) ? task.predictions.filter(isObject) : [];
  if (predictions.length === 0) return null;
  const parent = idOf(annotation.parent_prediction);
  if (parent) return predictions.find((p) => idOf(p.id) === parent) ?? null;
  return predictions[predictions.length - 1];
}

const OUR_ID = /^(pred[-_:]?[A-Za-z0-9-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * Links an annotation to the served prediction that pre-filled it. Where the prediction id may sit
 * (first found wins): `meta.mlops_prediction_id`, `meta.prediction_id`, `mlops_prediction_id`,
 * `model_version` written as `<model version>#<prediction id>`, `result[0].meta.prediction_id`, and a
 * `result[0].id` that is a UUID or starts with `pred`. The model version is `model_version` (before `#`);
 * the deployment `meta.deployment`. Stored as given: plain strings.
 */
export function predictionLinkOf(
  prediction: Record<string, unknown> | null,
  task: DatasetTask,
): PredictionLink | null {
  if (!prediction) return null;
  const meta = isObject(prediction.meta) ? prediction.meta : {};
  const firstRegion =
    Array.isArray(prediction.result) && isObject(prediction.result[0]) ? prediction.result[0] : {};
  const regionMeta = isObject(firstRegion.meta) ? firstRegion.meta : {};
  let modelVersion = typeof prediction.model_version === "string" ? prediction.model_version : null;
  let predictionId =
    idOf(meta.mlops_prediction_id) ??
    idOf(meta.prediction_id) ??
    idOf(prediction.mlops_prediction_id) ??
    idOf(prediction.prediction_id);
  if (modelVersion?.includes("#")) {
    const [version, id] = [
      modelVersion.slice(0, modelVersion.indexOf("#")),
      modelVersion.slice(modelVersion.indexOf("#") + 1),
    ];
    modelVersion = version || null;
    predictionId ??= id || null;
  }
  predictionId ??= idOf(regionMeta.mlops_prediction_id) ?? idOf(regionMeta.prediction_id);
  const regionId = idOf(firstRegion.id);
  if (!predictionId && regionId && OUR_ID.test(regionId)) predictionId = regionId;
  let predictedLabel = null;
  try {
    predictedLabel = labelFromLabelStudioResult(task, prediction.result ?? []);
  } catch {
    // A prediction we cannot read still links the revision; it just casts no agreement vote.
  }
  const deployment = typeof meta.deployment === "string" ? meta.deployment : null;
  if (!predictionId && !modelVersion) return null;
  return { predictionId, modelVersion: modelVersion?.slice(0, 200) ?? null, deployment, predictedLabel };
}
