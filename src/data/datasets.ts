import { randomUUID, timingSafeEqual } from "node:crypto";
import type { Readable } from "node:stream";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { parseSha256 } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import { validateName } from "../auth/identity-service.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { InputError, NotFoundError, UnprocessableError } from "../errors.js";
import { sha256Hex } from "./canonical-json.js";
import type { DataStore, DatasetRecord, DatasetStats, ItemWithLabel } from "./data-store.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";
import {
  DATASET_TASKS,
  type Dataset,
  type DatasetItem,
  type DatasetTask,
  type LabelRevision,
  SPLITS,
  type Split,
  type SplitFractions,
} from "./model.js";
import { validateSplitFractions } from "./splits.js";

/** Largest image accepted into a dataset. */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
const MAX_CLASSES = 10_000;

export interface CreateDatasetInput {
  project?: string;
  name: string;
  task: string;
  classes?: string[];
  description?: string;
  splitFractions?: Partial<SplitFractions>;
  webhookSecret?: string;
}

export interface UpdateDatasetInput {
  addClasses?: string[];
  description?: string;
  /** A new shared secret; null removes it. */
  webhookSecret?: string | null;
}

export function publicDataset(d: DatasetRecord): Dataset {
  const { webhookSecretHash: _hidden, ...rest } = d;
  return rest;
}

/** Datasets and their images (blobs); items and labels are in `items.ts` and `label-push.ts`. */
export class DatasetService {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
    private readonly artifacts: ArtifactStore,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  async create(principal: Principal, input: CreateDatasetInput): Promise<Dataset> {
    const name = validateName("dataset", input.name);
    if (!(DATASET_TASKS as readonly string[]).includes(input.task)) {
      throw new InputError(`task must be one of ${DATASET_TASKS.join(", ")}, got '${input.task}'`);
    }
    const classes = validateClasses(input.classes ?? [], []);
    const splitFractions = validateSplitFractions(input.splitFractions);
    const project = await this.access.projectFor(principal, input.project, "write");
    const dataset: DatasetRecord = {
      id: randomUUID(),
      projectId: project.id,
      name,
      description: input.description ?? "",
      task: input.task as DatasetTask,
      classes,
      splitFractions,
      hasWebhookSecret: Boolean(input.webhookSecret),
      webhookSecretHash: input.webhookSecret ? hashSecret(input.webhookSecret) : null,
      createdAt: this.now(),
      createdBy: principal.userName,
    };
    await this.store.insertDataset(dataset);
    await this.audit.record({
      actor: actorOf(principal),
      action: "dataset.create",
      subjectType: "dataset",
      subjectId: dataset.id,
      projectId: project.id,
      details: { name, task: dataset.task, classes, splitFractions },
    });
    return publicDataset(dataset);
  }

  async list(principal: Principal, project?: string): Promise<Dataset[]> {
    if (project) {
      const p = await this.access.projectFor(principal, project, "read");
      return (await this.store.listDatasets([p.id])).map(publicDataset);
    }
    const visible = await this.access.readableProjectIds(principal);
    return (await this.store.listDatasets(visible)).map(publicDataset);
  }

  async get(principal: Principal, ref: DatasetRef): Promise<Dataset & { stats: DatasetStats }> {
    const dataset = await this.access.resolve(principal, ref, "read");
    return { ...publicDataset(dataset), stats: await this.store.datasetStats(dataset.id) };
  }

  async update(principal: Principal, ref: DatasetRef, input: UpdateDatasetInput): Promise<Dataset> {
    const dataset = await this.access.resolve(principal, ref, "write");
    const classes = input.addClasses ? validateClasses(input.addClasses, dataset.classes) : undefined;
    const webhookSecretHash =
      input.webhookSecret === undefined
        ? undefined
        : input.webhookSecret
          ? hashSecret(input.webhookSecret)
          : null;
    await this.store.updateDataset(dataset.id, {
      classes,
      webhookSecretHash,
      description: input.description,
    });
    await this.audit.record({
      actor: actorOf(principal),
      action: "dataset.update",
      subjectType: "dataset",
      subjectId: dataset.id,
      projectId: dataset.projectId,
      details: {
        addedClasses: classes ? classes.slice(dataset.classes.length) : [],
        webhookSecret:
          input.webhookSecret === undefined ? "unchanged" : input.webhookSecret ? "set" : "removed",
      },
    });
    const updated = await this.store.findDatasetById(dataset.id);
    if (!updated) throw new NotFoundError(`dataset ${dataset.name} not found`);
    return publicDataset(updated);
  }

  /** Streams one image into the artifact store and records it as uploaded to this dataset. */
  async uploadBlob(
    principal: Principal,
    ref: DatasetRef,
    body: Readable,
    expectedSha256?: string,
  ): Promise<{ sha256: string; size: number; created: boolean }> {
    const dataset = await this.access.resolve(principal, ref, "write");
    const put = await this.artifacts.put(body, {
      expectedSha256: expectedSha256 ? parseSha256(expectedSha256) : undefined,
      maxBytes: MAX_IMAGE_BYTES,
    });
    if (put.size === 0) throw new InputError("an image upload cannot be empty");
    // `created` is about this dataset: whether the content exists anywhere else on the platform (the
    // store is shared and content-addressed) is not the caller's to learn (docs/security.md, tenancy).
    const known = await this.store.knownBlobs(dataset.id, [put.sha256]);
    await this.store.recordBlob(dataset.id, put.sha256, put.size, this.now());
    return { sha256: put.sha256, size: put.size, created: !known.has(put.sha256) };
  }

  /** Which of these images still need uploading to this dataset (re-runs skip the rest). */
  async missingBlobs(principal: Principal, ref: DatasetRef, sha256s: string[]): Promise<string[]> {
    const dataset = await this.access.resolve(principal, ref, "write");
    const canonical = sha256s.map(parseSha256);
    const known = await this.store.knownBlobs(dataset.id, canonical);
    return canonical.filter((s) => !known.has(s));
  }

  async listItems(
    principal: Principal,
    ref: DatasetRef,
    options: { split?: string; after?: string; limit?: number },
  ): Promise<{ items: ItemWithLabel[]; nextCursor?: string }> {
    const dataset = await this.access.resolve(principal, ref, "read");
    if (options.split && !(SPLITS as readonly string[]).includes(options.split)) {
      throw new InputError(`split must be one of ${SPLITS.join(", ")}`);
    }
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const items = await this.store.listItems(dataset.id, {
      split: options.split as Split | undefined,
      after: options.after,
      limit: limit + 1,
    });
    const page = items.slice(0, limit);
    return items.length > limit
      ? { items: page, nextCursor: page[page.length - 1].item.id }
      : { items: page };
  }

  async getItem(
    principal: Principal,
    ref: DatasetRef,
    idOrKey: string,
  ): Promise<{ item: DatasetItem; revisions: LabelRevision[] }> {
    const dataset = await this.access.resolve(principal, ref, "read");
    const item = await this.store.findItem(dataset.id, idOrKey);
    if (!item) throw new NotFoundError(`item ${idOrKey} not found in dataset ${dataset.name}`);
    return { item, revisions: await this.store.revisionsOfItem(item.id) };
  }

  /** The item's image bytes (labelers may read the images they label). */
  /**
   * An item's image for a holder of a verified signed URL (no principal: the signature is the grant). The
   * caller checks the signature first; unknown ids answer the same NotFoundError as any missing item.
   */
  async openGrantedItemImage(datasetId: string, itemId: string): Promise<Readable> {
    const item = await this.store.findItem(datasetId, itemId);
    if (!item || item.id !== itemId || !item.sha256) throw new NotFoundError("image not found");
    return this.artifacts.get(item.sha256);
  }

  async openItemImage(principal: Principal, ref: DatasetRef, idOrKey: string): Promise<Readable> {
    const dataset = await this.access.resolveAny(principal, ref, ["read", "label"]);
    const item = await this.store.findItem(dataset.id, idOrKey);
    if (!item) throw new NotFoundError(`item ${idOrKey} not found in dataset ${dataset.name}`);
    if (!item.sha256) throw new UnprocessableError(`item ${item.id} is referenced by URL: ${item.url}`);
    return this.artifacts.get(item.sha256);
  }
}

function validateClasses(added: unknown[], existing: string[]): string[] {
  const out = [...existing];
  const seen = new Set(existing);
  for (const c of added) {
    if (typeof c !== "string" || c.trim() === "" || c.length > 200 || c !== c.trim()) {
      throw new InputError(
        `class names must be non-empty strings without surrounding spaces: '${String(c)}'`,
      );
    }
    if (seen.has(c)) continue;
    seen.add(c);
    out.push(c);
  }
  if (out.length > MAX_CLASSES) throw new InputError(`a dataset may have at most ${MAX_CLASSES} classes`);
  return out;
}

export function hashSecret(secret: string): string {
  if (secret.length < 8) throw new InputError("a webhook secret needs at least 8 characters");
  return sha256Hex(`webhook-secret:${secret}`);
}

/** Constant-time check of a presented secret against the stored hash. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(sha256Hex(`webhook-secret:${presented}`), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
