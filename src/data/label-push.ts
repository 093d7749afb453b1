import type { Principal } from "../auth/principal.js";
import { InputError, NotFoundError } from "../errors.js";
import type { DataStore } from "./data-store.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";
import { validateKey } from "./items.js";
import { normalizeLabel } from "./labels.js";
import type { DatasetItem, Label, PredictionLink } from "./model.js";
import { buildRevision } from "./revisions.js";

export const MAX_LABELS_PER_REQUEST = 1000;

export interface LabelPushInput {
  /** Item id or key. */
  item: string;
  /** Client-chosen id of this label change: sending it again is a no-op. */
  idempotencyKey: string;
  label?: unknown;
  /** true: delete the item's label (a tombstone revision). */
  delete?: boolean;
  /** The served prediction this label answers. */
  prediction?: { id?: string; modelVersion?: string; deployment?: string; label?: unknown };
}

export interface LabelPushResult {
  stored: number;
  duplicates: number;
  revisions: Array<{ idempotencyKey: string; itemId: string; revisionId: number; duplicate: boolean }>;
}

/** Bulk label ingestion over the API: labelers' tools and scripts. Needs the `label` permission only. */
export class LabelPushService {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
    private readonly now: () => number = Date.now,
  ) {}

  async push(principal: Principal, ref: DatasetRef, inputs: LabelPushInput[]): Promise<LabelPushResult> {
    const dataset = await this.access.resolve(principal, ref, "label");
    if (inputs.length === 0) return { stored: 0, duplicates: 0, revisions: [] };
    if (inputs.length > MAX_LABELS_PER_REQUEST) {
      throw new InputError(`at most ${MAX_LABELS_PER_REQUEST} labels per request`);
    }
    const parsed = inputs.map((input, i) => {
      const where = `label ${i}`;
      validateKey(input.idempotencyKey, `${where} idempotencyKey`);
      validateKey(input.item, `${where} item`);
      if (input.delete === true && input.label !== undefined) {
        throw new InputError(`${where}: give either label or delete, not both`);
      }
      if (input.delete !== true && input.label === undefined)
        throw new InputError(`${where}: label is missing`);
      try {
        const label: Label | null = input.delete === true ? null : normalizeLabel(dataset, input.label);
        return {
          input,
          label,
          prediction: predictionOf(input.prediction, (raw) =>
            normalizeLabel(dataset, raw, { anyClass: true }),
          ),
        };
      } catch (err) {
        throw new InputError(`${where}: ${(err as Error).message}`);
      }
    });
    const found = await this.store.findItemsByRefs(dataset.id, [...new Set(inputs.map((i) => i.item))]);
    const byRef = new Map<string, DatasetItem>();
    for (const item of found) byRef.set(item.key, item);
    for (const item of found) byRef.set(item.id, item);
    const missing = inputs.find((i) => !byRef.has(i.item));
    if (missing) throw new NotFoundError(`item ${missing.item} not found in dataset ${dataset.name}`);

    const at = this.now();
    const revisions = parsed.map(({ input, label, prediction }) =>
      buildRevision({
        item: byRef.get(input.item) as DatasetItem,
        label,
        source: "api",
        dedupeKey: `api:${input.idempotencyKey}`,
        author: principal.userName,
        createdAt: at,
        prediction,
      }),
    );
    const keys = revisions.map((r) => r.dedupeKey);
    const existed = new Set(
      (await this.store.findRevisionsByDedupeKeys(dataset.id, keys)).map((r) => r.dedupeKey),
    );
    const stored = await this.store.insertRevisions(revisions);
    const rows = new Map(
      (await this.store.findRevisionsByDedupeKeys(dataset.id, keys)).map((r) => [r.dedupeKey, r]),
    );
    const seen = new Set<string>();
    const out = revisions.map((r, i) => {
      const row = rows.get(r.dedupeKey);
      if (!row) throw new Error(`label revision ${r.dedupeKey} vanished after insert`);
      const fresh = !existed.has(r.dedupeKey) && !seen.has(r.dedupeKey);
      seen.add(r.dedupeKey);
      return {
        idempotencyKey: inputs[i].idempotencyKey,
        itemId: row.itemId,
        revisionId: row.id,
        duplicate: !fresh,
      };
    });
    return { stored, duplicates: inputs.length - stored, revisions: out };
  }
}

function predictionOf(
  raw: LabelPushInput["prediction"],
  normalize: (label: unknown) => Label,
): PredictionLink | null {
  if (!raw) return null;
  const str = (v: unknown, name: string) => {
    if (v === undefined || v === null) return null;
    if (typeof v !== "string" || v.length === 0 || v.length > 200) {
      throw new InputError(`prediction.${name} must be a string of 1-200 characters`);
    }
    return v;
  };
  const link: PredictionLink = {
    predictionId: str(raw.id, "id"),
    modelVersion: str(raw.modelVersion, "modelVersion"),
    deployment: str(raw.deployment, "deployment"),
    predictedLabel: raw.label === undefined || raw.label === null ? null : normalize(raw.label),
  };
  if (!link.predictionId && !link.modelVersion)
    throw new InputError("prediction needs an id or a modelVersion");
  return link;
}
