import type { PredictionRecord, PredictionStore } from "./prediction-record.js";

export interface PredictionLogOptions {
  /** A batch is written at most this long after its first record. */
  flushMs?: number;
  /** A batch is written as soon as it holds this many records. */
  maxBatch?: number;
  /**
   * Records held at most (while the database is slow or down); beyond it new records are dropped and
   * counted, so a database outage degrades the log, never the serving.
   */
  maxBuffered?: number;
  onError?: (err: Error, lost: number) => void;
  /** Records dropped (buffer full, or a failed batch that no longer fits): for the drop counter metric. */
  onDrop?: (count: number) => void;
}

/**
 * Writes the prediction log in batches off the request path: `record` only appends to memory; a timer
 * (or a full batch) writes them with one multi-row INSERT. A failed write is retried with the next batch
 * until `maxBuffered` is exceeded.
 */
export class PredictionLogWriter {
  private buffer: PredictionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private droppedCount = 0;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly store: PredictionStore,
    private readonly options: PredictionLogOptions = {},
  ) {
    this.flushMs = options.flushMs ?? 100;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxBuffered = options.maxBuffered ?? 100_000;
  }

  /** Records dropped because the buffer was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  get pending(): number {
    return this.buffer.length;
  }

  record(entry: PredictionRecord): void {
    if (this.buffer.length >= this.maxBuffered) {
      this.droppedCount++;
      this.options.onDrop?.(1);
      return;
    }
    this.buffer.push(entry);
    if (this.buffer.length >= this.maxBatch) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Writes everything recorded so far; resolves when it is in the database (or the write failed). */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time keeps the rows in order and the connection pool free for requests.
    while (this.writing) await this.writing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.writing = this.store.insertMany(batch).then(
      () => undefined,
      (err: Error) => {
        // Keep the batch for the next attempt, unless that would overflow the buffer.
        const room = this.maxBuffered - this.buffer.length;
        const kept = batch.slice(0, Math.max(0, room));
        this.droppedCount += batch.length - kept.length;
        if (batch.length > kept.length) this.options.onDrop?.(batch.length - kept.length);
        this.buffer = [...kept, ...this.buffer];
        this.options.onError?.(err, batch.length - kept.length);
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), Math.max(this.flushMs, 1000));
          this.timer.unref();
        }
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = undefined;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
