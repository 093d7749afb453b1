import { NotFoundError } from "../../errors.js";
import type { BatchingOptions } from "./model-runner.js";
import type { ItemResult, RunReply, WorkItem } from "./protocol.js";
import type { WorkerHandle, WorkerPool } from "./worker-pool.js";

/** What a caller gets back for its one item: its own result plus how the run went. */
export interface ScheduledResult {
  result: ItemResult;
  reply: RunReply;
  queueMs: number;
}

interface Queued {
  item: WorkItem;
  /** Batch rows this item adds (images, or dimension 0 of its tensors). */
  rows: number;
  /** Items with different keys cannot share a batch (tensor shapes beyond dimension 0 differ). */
  compatKey: string;
  enqueuedAt: number;
  resolve: (r: ScheduledResult) => void;
  reject: (err: Error) => void;
}

interface ModelQueue {
  key: string;
  items: Queued[];
  /** Only for models whose batch dimension is dynamic. */
  batching?: BatchingOptions;
  timer?: NodeJS.Timeout;
}

/**
 * Hands queued requests to idle workers, one run per worker at a time (onnxruntime's run blocks its
 * thread, so a second message would only wait inside the worker, out of our control). Models take turns
 * (round robin), so a model flooded with slow requests delays another model's request by at most one
 * run, not by its whole queue. With batching, a model's queue runs when it holds `maxBatchSize` rows or
 * its oldest item has waited `maxDelayMs`, and one run takes as many compatible items as fit.
 */
export class RunScheduler {
  private readonly queues = new Map<string, ModelQueue>();
  private readonly busy = new Set<WorkerHandle>();
  private turn = 0;

  constructor(
    private readonly pool: WorkerPool,
    private readonly runTimeoutMs: number,
  ) {}

  addModel(key: string, batching?: BatchingOptions): void {
    this.queues.set(key, { key, items: [], batching });
  }

  /** Fails everything still queued for the model. */
  removeModel(key: string): void {
    const q = this.queues.get(key);
    if (!q) return;
    this.queues.delete(key);
    if (q.timer) clearTimeout(q.timer);
    for (const it of q.items) it.reject(new NotFoundError(`model "${key}" was unloaded`));
  }

  submit(key: string, item: WorkItem, rows: number, compatKey: string): Promise<ScheduledResult> {
    const q = this.queues.get(key);
    if (!q) return Promise.reject(new NotFoundError(`model "${key}" is not loaded`));
    return new Promise((resolve, reject) => {
      q.items.push({ item, rows, compatKey, enqueuedAt: performance.now(), resolve, reject });
      this.dispatch();
    });
  }

  close(): void {
    for (const key of [...this.queues.keys()]) this.removeModel(key);
  }

  /** Starts as many runs as there are idle workers and ready queues. */
  dispatch(): void {
    for (;;) {
      const idle = this.pool.ready().filter((h) => !this.busy.has(h));
      if (idle.length === 0) return;
      const pick = this.nextReady(idle);
      if (!pick) return;
      this.start(pick.worker, pick.queue);
    }
  }

  private nextReady(idle: WorkerHandle[]): { queue: ModelQueue; worker: WorkerHandle } | undefined {
    const queues = [...this.queues.values()];
    const now = performance.now();
    for (let i = 0; i < queues.length; i++) {
      const q = queues[(this.turn + i) % queues.length];
      if (q.items.length === 0 || !this.isDue(q, now)) continue;
      const worker = idle.find((h) => h.models.has(q.key));
      if (!worker) continue;
      this.turn = (this.turn + i + 1) % queues.length;
      return { queue: q, worker };
    }
    return undefined;
  }

  private isDue(q: ModelQueue, now: number): boolean {
    if (!q.batching) return true;
    const rows = q.items.reduce((a, it) => a + it.rows, 0);
    const waited = now - q.items[0].enqueuedAt;
    if (rows >= q.batching.maxBatchSize || waited >= q.batching.maxDelayMs) return true;
    if (!q.timer) {
      q.timer = setTimeout(
        () => {
          q.timer = undefined;
          this.dispatch();
        },
        Math.max(0, q.batching.maxDelayMs - waited),
      );
    }
    return false;
  }

  /** Takes the head item and, with batching, the following compatible items that fit. */
  private take(q: ModelQueue): Queued[] {
    const head = q.items.shift()!;
    const batch = [head];
    if (!q.batching) return batch;
    let rows = head.rows;
    for (let i = 0; i < q.items.length && rows < q.batching.maxBatchSize; ) {
      const it = q.items[i];
      if (it.compatKey === head.compatKey && rows + it.rows <= q.batching.maxBatchSize) {
        batch.push(it);
        rows += it.rows;
        q.items.splice(i, 1);
      } else {
        i++;
      }
    }
    return batch;
  }

  private start(worker: WorkerHandle, q: ModelQueue): void {
    const batch = this.take(q);
    if (q.timer && q.items.length === 0) {
      clearTimeout(q.timer);
      q.timer = undefined;
    }
    this.busy.add(worker);
    const startedAt = performance.now();
    const items = batch.map((b) => b.item);
    this.pool
      .call<RunReply>(worker, { type: "run", key: q.key, items }, transferablesOf(items), this.runTimeoutMs)
      .then(
        (reply) => {
          batch.forEach((b, i) => {
            b.resolve({ result: reply.items[i], reply, queueMs: startedAt - b.enqueuedAt });
          });
        },
        (err: Error) => {
          for (const b of batch) b.reject(err);
        },
      )
      .finally(() => {
        this.busy.delete(worker);
        this.dispatch();
      });
  }
}

/** Request buffers are fresh copies made by the runner, so they can be handed over instead of cloned. */
function transferablesOf(items: WorkItem[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const item of items) {
    if (item.kind === "images") for (const img of item.images) out.push(img.buffer as ArrayBuffer);
    else for (const t of item.inputs) out.push(t.data.buffer as ArrayBuffer);
  }
  return out;
}
