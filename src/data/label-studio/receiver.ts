import { actorOf, type Principal } from "../../auth/principal.js";
import { InputError, NotFoundError, UnauthenticatedError, UnprocessableError } from "../../errors.js";
import { canonicalJson, sha256Hex } from "../canonical-json.js";
import type { DataStore, DatasetRecord } from "../data-store.js";
import type { DatasetAccess, DatasetRef } from "../dataset-access.js";
import { secretMatches } from "../datasets.js";
import { baseName } from "../items.js";
import { normalizeLabel } from "../labels.js";
import type { DatasetItem } from "../model.js";
import { buildRevision } from "../revisions.js";
import { labelFromLabelStudioResult } from "./results.js";
import {
  type AnnotationEvent,
  type DeleteEvent,
  parseLabelStudioWebhook,
  predictionLinkOf,
  type TaskReference,
} from "./webhook.js";

export const WEBHOOK_SECRET_HEADER = "x-mlops-webhook-secret";

export interface WebhookDelivery {
  dataset: DatasetRef;
  body: unknown;
  /** The authenticated caller, when the delivery carried a platform token. */
  principal?: Principal;
  /** Value of the X-Mlops-Webhook-Secret header. */
  secret?: string;
}

export type WebhookOutcome =
  | { action: string; status: "stored" | "duplicate"; itemId: string; revisionId: number }
  | { action: string; status: "ignored"; reason: string }
  | { action: string; status: "deleted"; tombstones: number; duplicates: number };

/** Our own image URL, `.../datasets/<dataset>/items/<item>/image`, as the LS ML backend may serve it. */
const ITEM_IMAGE_URL = /\/datasets\/[^/]+\/items\/([^/?#]+)\/image(?:[?#]|$)/;
/** Label Studio prefixes uploaded file names with 8 hex characters and a dash. */
const LS_UPLOAD_PREFIX = /^[0-9a-f]{8}-(.+)$/;

/**
 * Turns Label Studio annotation webhooks into label revisions, exactly once per (annotation, content):
 * the dedupe key is `label-studio:<annotation id>:<hash of updated_at and result>`, stored under a unique
 * constraint with insert-or-ignore, so re-deliveries and concurrent deliveries are no-ops.
 */
export class LabelStudioReceiver {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
    private readonly now: () => number = Date.now,
  ) {}

  async receive(delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const dataset = await this.authorize(delivery);
    const parsed = parseLabelStudioWebhook(delivery.body);
    // Authenticated by a token: the label is that token's user's, whatever the body's completed_by says.
    const event =
      delivery.secret === undefined && delivery.principal && parsed.kind !== "delete"
        ? { ...parsed, author: actorOf(delivery.principal) }
        : parsed;
    return event.kind === "delete" ? this.delete(dataset, event) : this.annotate(dataset, event);
  }

  /** A matching shared secret, or else a token with `label` permission on the dataset's project. */
  private async authorize(delivery: WebhookDelivery): Promise<DatasetRecord> {
    const dataset = await this.access.find(delivery.dataset);
    if (delivery.secret !== undefined) {
      if (dataset?.webhookSecretHash && secretMatches(delivery.secret, dataset.webhookSecretHash))
        return dataset;
      throw new UnauthenticatedError("webhook secret does not match");
    }
    if (!delivery.principal) {
      throw new UnauthenticatedError(
        `send the dataset's shared secret in ${WEBHOOK_SECRET_HEADER} or a token with label permission`,
      );
    }
    if (!dataset) throw new NotFoundError(`dataset ${delivery.dataset.dataset} not found`);
    await this.access.authorize(delivery.principal, dataset, "label");
    return dataset;
  }

  private async annotate(dataset: DatasetRecord, event: AnnotationEvent): Promise<WebhookOutcome> {
    if (event.wasCancelled)
      return { action: event.action, status: "ignored", reason: "the task was skipped" };
    const raw = labelFromLabelStudioResult(dataset.task, event.result);
    if (!raw) {
      throw new UnprocessableError(
        `annotation ${event.annotationId} has no ${dataset.task === "classification" ? '"choices"' : '"rectanglelabels"'} result for ${dataset.task} dataset ${dataset.name}`,
      );
    }
    const label = normalizeLabel(dataset, raw);
    const item = await this.matchItem(dataset, event.task);
    const prediction = predictionLinkOf(event.prediction, dataset.task);
    const contentHash = sha256Hex(`${event.updatedAt ?? ""}\n${canonicalJson(event.result)}`).slice(0, 32);
    const revision = buildRevision({
      item,
      label,
      source: "label-studio",
      dedupeKey: `label-studio:${event.annotationId}:${contentHash}`,
      author: event.author,
      createdAt: this.now(),
      sourceRef: `label-studio:annotation:${event.annotationId}`,
      prediction,
    });
    const inserted = await this.store.insertRevisions([revision]);
    if (event.task.taskId && item.externalTaskId !== event.task.taskId) {
      await this.store.setItemExternalTask(item.id, event.task.taskId);
    }
    const [stored] = await this.store.findRevisionsByDedupeKeys(dataset.id, [revision.dedupeKey]);
    return {
      action: event.action,
      status: inserted > 0 ? "stored" : "duplicate",
      itemId: item.id,
      revisionId: stored.id,
    };
  }

  private async delete(dataset: DatasetRecord, event: DeleteEvent): Promise<WebhookOutcome> {
    const at = this.now();
    const revisions = [];
    for (const annotationId of event.annotationIds) {
      const sourceRef = `label-studio:annotation:${annotationId}`;
      // Only labels this annotation still decides are deleted; a later label from elsewhere stays.
      const itemIds = await this.store.itemsCurrentlyFrom(dataset.id, sourceRef);
      for (const itemId of itemIds) {
        const item = await this.store.findItem(dataset.id, itemId);
        if (!item) continue;
        revisions.push(
          buildRevision({
            item,
            label: null,
            source: "label-studio",
            dedupeKey: `label-studio:${annotationId}:deleted:${item.id}`,
            author: "label-studio",
            createdAt: at,
            sourceRef,
          }),
        );
      }
    }
    const inserted = await this.store.insertRevisions(revisions);
    return {
      action: "ANNOTATIONS_DELETED",
      status: "deleted",
      tombstones: inserted,
      duplicates: revisions.length - inserted,
    };
  }

  /**
   * Which item a Label Studio task is about, first match wins: `data.mlops_item` / `meta.mlops_item`
   * (our item id or key); the task id learned from an earlier delivery; `data.image` as our own item image
   * URL, as an item's URL, or by file name (Label Studio's upload prefix `abcd1234-` removed).
   */
  private async matchItem(dataset: DatasetRecord, task: TaskReference): Promise<DatasetItem> {
    if (task.itemRef) {
      const item = await this.store.findItem(dataset.id, task.itemRef);
      if (item) return item;
      throw new UnprocessableError(
        `task names item ${task.itemRef}, which is not in dataset ${dataset.name}`,
      );
    }
    if (task.taskId) {
      const item = await this.store.findItemByExternalTask(dataset.id, task.taskId);
      if (item) return item;
    }
    if (task.image) {
      const item = await this.matchImage(dataset, task.image);
      if (item) return item;
    }
    throw new UnprocessableError(
      `no item of dataset ${dataset.name} matches Label Studio task ${task.taskId ?? "?"} (image ${task.image ?? "none"}); put the item id in task.data.mlops_item`,
    );
  }

  private async matchImage(dataset: DatasetRecord, image: string): Promise<DatasetItem | undefined> {
    const own = ITEM_IMAGE_URL.exec(image);
    if (own) {
      const item = await this.store.findItem(dataset.id, decodeURIComponent(own[1]));
      if (item) return item;
    }
    const byUrl = await this.store.findItemsByUrl(dataset.id, image);
    if (byUrl.length === 1) return byUrl[0];
    const path = imagePathOf(image);
    const file = baseName(path);
    if (!file) return undefined;
    let candidates = await this.store.findItemsByFileName(dataset.id, file);
    const stripped = LS_UPLOAD_PREFIX.exec(file)?.[1];
    if (candidates.length === 0 && stripped)
      candidates = await this.store.findItemsByFileName(dataset.id, stripped);
    if (candidates.length > 1) {
      // `cat/001.png` and `dog/001.png`: the longer path in the URL decides.
      candidates = candidates.filter((c) => c.sourceName && path.endsWith(`/${c.sourceName}`));
    }
    if (candidates.length > 1) {
      throw new InputError(
        `image ${image} matches ${candidates.length} items; put the item id in task.data.mlops_item`,
      );
    }
    return candidates[0];
  }
}

/**
 * The file path an image reference names: Label Studio's local-storage URLs carry it in `?d=`
 * (`/data/local-files/?d=images/cat/1.png`); other URLs in their path.
 */
export function imagePathOf(image: string): string {
  const query = image.indexOf("?");
  if (query >= 0) {
    const d = new URLSearchParams(image.slice(query + 1).split("#")[0]).get("d");
    if (d) return d.startsWith("/") ? d : `/${d}`;
  }
  return decodeSafe(image.split(/[?#]/)[0]);
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
