import { randomUUID } from "node:crypto";
import { parseSha256 } from "../artifacts/artifact-store.js";
import type { Principal } from "../auth/principal.js";
import { ConflictError, InputError } from "../errors.js";
import { sha256Hex } from "./canonical-json.js";
import type { DataStore, NewItem } from "./data-store.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";
import { labelHash, normalizeLabel } from "./labels.js";
import type { DatasetItem, Label, Split } from "./model.js";
import { buildRevision } from "./revisions.js";
import { assignSplit } from "./splits.js";

export const MAX_ITEMS_PER_REQUEST = 1000;

export interface ItemInput {
  /** External id; default: the image's sha256, or `url-<sha256(url)>` for a URL item. */
  key?: string;
  /** An image uploaded to this dataset before (POST .../blobs). */
  sha256?: string;
  /** Or an image referenced by URL. */
  url?: string;
  /** Path as imported (`cat/001.png`): lets Label Studio tasks be matched to the item. */
  sourceName?: string;
  label?: unknown;
  /** Dedupe key of the label; default: import:<item key>:<label hash> (re-imports are no-ops). */
  labelKey?: string;
}

export interface ItemResult {
  key: string;
  id: string;
  split: Split;
  created: boolean;
  revisionId: number | null;
  labelStored: boolean;
}

interface Prepared {
  key: string;
  sha256: string | null;
  url: string | null;
  sourceName: string | null;
  fileName: string | null;
  label: Label | null;
  labelKey: string | null;
}

/** Adds items (idempotent: by key and by image content) with optional labels, as imports do. */
export class ItemService {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
    private readonly now: () => number = Date.now,
  ) {}

  async addItems(principal: Principal, ref: DatasetRef, inputs: ItemInput[]): Promise<ItemResult[]> {
    const dataset = await this.access.resolve(principal, ref, "write");
    if (inputs.length > MAX_ITEMS_PER_REQUEST) {
      throw new InputError(`at most ${MAX_ITEMS_PER_REQUEST} items per request`);
    }
    // Everything is validated before anything is written: a bad batch stores nothing.
    const prepared = inputs.map((input, i) => prepare(input, i, (raw) => normalizeLabel(dataset, raw)));
    const shas = unique(prepared.map((p) => p.sha256).filter((s): s is string => s !== null));
    const uploaded = await this.store.knownBlobs(dataset.id, shas);
    const missing = shas.find((s) => !uploaded.has(s));
    if (missing)
      throw new InputError(`image ${missing} was not uploaded to dataset ${dataset.name}; upload it first`);

    const keys = unique(prepared.map((p) => p.key));
    const match = async () => {
      const byKey = new Map((await this.store.findItemsByKeys(dataset.id, keys)).map((i) => [i.key, i]));
      const bySha = new Map(
        (await this.store.findItemsBySha(dataset.id, shas)).map((i) => [i.sha256 as string, i]),
      );
      return (p: Prepared): DatasetItem | undefined =>
        (p.sha256 ? bySha.get(p.sha256) : undefined) ?? byKey.get(p.key);
    };

    const before = await match();
    const newItems = new Map<string, NewItem>();
    const at = this.now();
    for (const p of prepared) {
      if (before(p) || newItems.has(p.key)) continue;
      if (p.sha256 && [...newItems.values()].some((n) => n.sha256 === p.sha256)) continue;
      newItems.set(p.key, {
        id: randomUUID(),
        datasetId: dataset.id,
        key: p.key,
        sha256: p.sha256,
        url: p.url,
        size: p.sha256 ? (uploaded.get(p.sha256) ?? null) : null,
        sourceName: p.sourceName,
        fileName: p.fileName,
        split: assignSplit(p.key, dataset.splitFractions),
        createdAt: at,
      });
    }
    await this.store.insertItems([...newItems.values()]);
    const after = await match();

    const items = prepared.map((p) => {
      const item = after(p);
      if (!item) throw new ConflictError(`item ${p.key} could not be stored; retry`);
      if (item.key === p.key && ((p.sha256 && item.sha256 !== p.sha256) || (p.url && item.url !== p.url))) {
        throw new ConflictError(`item key ${p.key} already names another image in dataset ${dataset.name}`);
      }
      return item;
    });

    const revisions = prepared.flatMap((p, i) =>
      p.label
        ? [
            buildRevision({
              item: items[i],
              label: p.label,
              source: "import",
              dedupeKey: p.labelKey ? `api:${p.labelKey}` : `import:${items[i].key}:${labelHash(p.label)}`,
              author: principal.userName,
              createdAt: at,
            }),
          ]
        : [],
    );
    const labelKeys = unique(revisions.map((r) => r.dedupeKey));
    const existed = new Set(
      (await this.store.findRevisionsByDedupeKeys(dataset.id, labelKeys)).map((r) => r.dedupeKey),
    );
    await this.store.insertRevisions(revisions);
    const stored = new Map(
      (await this.store.findRevisionsByDedupeKeys(dataset.id, labelKeys)).map((r) => [r.dedupeKey, r]),
    );
    let r = 0;
    const seen = new Set<string>();
    return prepared.map((p, i) => {
      const item = items[i];
      const key = p.label ? revisions[r++].dedupeKey : undefined;
      const revision = key ? stored.get(key) : undefined;
      const fresh = key !== undefined && !existed.has(key) && !seen.has(key);
      if (key) seen.add(key);
      return {
        key: item.key,
        id: item.id,
        split: item.split,
        created: newItems.get(p.key)?.id === item.id,
        revisionId: revision?.id ?? null,
        labelStored: fresh,
      };
    });
  }
}

function prepare(input: ItemInput, index: number, normalize: (raw: unknown) => Label): Prepared {
  const where = `item ${index}`;
  if ((input.sha256 === undefined) === (input.url === undefined)) {
    throw new InputError(`${where}: give exactly one of sha256 (an uploaded image) or url`);
  }
  const sha256 = input.sha256 === undefined ? null : parseSha256(input.sha256);
  let url: string | null = null;
  if (input.url !== undefined) {
    if (
      typeof input.url !== "string" ||
      input.url.length > 2048 ||
      !/^(https?|s3|gs):\/\/\S+$/.test(input.url)
    ) {
      throw new InputError(
        `${where}: url must be an http(s)://, s3:// or gs:// URL of at most 2048 characters`,
      );
    }
    url = input.url;
  }
  const key = input.key ?? sha256 ?? `url-${sha256Hex(url as string)}`;
  validateKey(key, where);
  const sourceName = input.sourceName ? validateSourceName(input.sourceName, where) : null;
  const fileName = baseName(sourceName ?? (url ? new URL(url).pathname : "")) || null;
  if (input.labelKey !== undefined) validateKey(input.labelKey, `${where} labelKey`);
  let label: Label | null = null;
  if (input.label !== undefined && input.label !== null) {
    try {
      label = normalize(input.label);
    } catch (err) {
      throw new InputError(`${where}: ${(err as Error).message}`);
    }
  }
  return { key, sha256, url, sourceName, fileName, label, labelKey: input.labelKey ?? null };
}

export function validateKey(key: unknown, where: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (typeof key !== "string" || key.length === 0 || key.length > 512 || /[\u0000-\u001f\u007f]/.test(key)) {
    throw new InputError(`${where}: a key must be 1-512 printable characters`);
  }
  return key;
}

function validateSourceName(name: string, where: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (typeof name !== "string" || name.length > 1024 || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new InputError(`${where}: sourceName must be at most 1024 printable characters`);
  }
  return name.replace(/\\/g, "/");
}

export function baseName(path: string): string {
  const clean = path.split(/[?#]/)[0];
  const segment = clean.slice(clean.lastIndexOf("/") + 1);
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
