import type { Principal } from "../../auth/principal.js";
import { InputError } from "../../errors.js";
import type { BatchPrediction, BatchResult } from "./batch.js";
import type { BatchService } from "./batch-service.js";
import type { BatchStore } from "./batch-store.js";
import { type CocoDocument, type LabelStudioTask, toCoco, toLabelStudioTask } from "./exports.js";

export const EXPORT_FORMATS = ["label-studio", "coco"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** Base URL of this server, for dataset images served by `GET /api/v1/datasets/{d}/items/{i}/image`. */
  publicUrl: string;
  /**
   * Path + query of a signed, expiring URL for a dataset item's image, which Label Studio can load without a
   * token (docs/architecture/data.md). Without it, exports name the token-protected item image route.
   */
  signedImagePath?: (datasetId: string, itemId: string) => string;
  /** Prefix for input-directory images (e.g. Label Studio's `/data/local-files/?d=images/`); default none. */
  imageRoot?: string;
  fromName?: string;
  toName?: string;
  dataKey?: string;
}

const PAGE = 1000;

/** Reading a batch's stored predictions: pages, and the Label Studio / COCO exports. */
export class BatchResults {
  constructor(
    private readonly store: BatchStore,
    private readonly batches: BatchService,
  ) {}

  async page(
    principal: Principal,
    id: string,
    after = -1,
    limit = 100,
  ): Promise<{ results: BatchResult[]; nextAfter?: number }> {
    await this.batches.find(principal, id, "read");
    const n = Math.min(Math.max(limit, 1), PAGE);
    const results = await this.store.results(id, after, n + 1);
    const shown = results.slice(0, n);
    return results.length > n
      ? { results: shown, nextAfter: shown[shown.length - 1].position }
      : { results: shown };
  }

  /** Label Studio tasks, produced page by page (a large batch is streamed, not built in memory). */
  async labelStudioTasks(
    principal: Principal,
    id: string,
    options: ExportOptions,
  ): Promise<AsyncGenerator<LabelStudioTask>> {
    const batch = await this.batches.find(principal, id, "read");
    const store = this.store;
    return (async function* () {
      for await (const { result, url } of walk(store, batch)) {
        yield toLabelStudioTask(batch, result, {
          imageOf: (r) => imageOf(batch, r, url, options),
          fromName: options.fromName,
          toName: options.toName,
          dataKey: options.dataKey,
        });
      }
    })();
  }

  /** The batch, for a caller that may read it (exports pick the Label Studio setup by its project). */
  async find(principal: Principal, id: string): Promise<BatchPrediction> {
    return this.batches.find(principal, id, "read");
  }

  async coco(principal: Principal, id: string, options: ExportOptions): Promise<CocoDocument> {
    const batch = await this.batches.find(principal, id, "read");
    const results: BatchResult[] = [];
    const names = new Map<number, string>();
    for await (const { result, url } of walk(this.store, batch)) {
      results.push(result);
      names.set(
        result.position,
        batch.source.kind === "input" ? result.key : imageOf(batch, result, url, options),
      );
    }
    return toCoco(
      batch,
      results,
      new Date(batch.finishedAt ?? batch.updatedAt),
      (r) => names.get(r.position) ?? r.key,
    );
  }
}

export function parseExportFormat(value: string | undefined): ExportFormat {
  const format = value ?? "label-studio";
  if (!(EXPORT_FORMATS as readonly string[]).includes(format))
    throw new InputError(`format must be one of ${EXPORT_FORMATS.join(", ")}`);
  return format as ExportFormat;
}

async function* walk(
  store: BatchStore,
  batch: BatchPrediction,
): AsyncGenerator<{ result: BatchResult; url: string | null }> {
  let after = -1;
  for (;;) {
    const page = await store.results(batch.id, after, PAGE);
    if (page.length === 0) return;
    const first = page[0].position;
    const last = page[page.length - 1].position;
    const urls = new Map((await store.inputs(batch.id, first, last + 1)).map((i) => [i.position, i.url]));
    for (const result of page) yield { result, url: urls.get(result.position) ?? null };
    after = last;
  }
}

function imageOf(batch: BatchPrediction, r: BatchResult, url: string | null, options: ExportOptions): string {
  if (batch.source.kind === "input") return `${options.imageRoot ?? ""}${r.key}`;
  if (url) return url;
  const base = options.publicUrl.replace(/\/$/, "");
  if (options.signedImagePath && r.itemId)
    return `${base}${options.signedImagePath(batch.source.datasetId, r.itemId)}`;
  return `${base}/api/v1/datasets/${batch.source.datasetId}/items/${r.itemId}/image`;
}
