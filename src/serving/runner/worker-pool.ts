import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
// Both native addons are loaded here, on the main thread, before any worker: on glibc, a library first
// opened by a worker is unloaded when that worker exits, which crashes the process (sharp #2263).
import "onnxruntime-node";
import "sharp";
import { InputError } from "../../errors.js";
import type { LoadReply, WireError, WorkerReply, WorkerRequest } from "./protocol.js";

/** Distributes a request without its id; the pool numbers messages itself. */
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, "id"> : never) : never;
type LoadRequest = Extract<Request, { type: "load" }>;

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * One worker thread: `starting` until it has loaded every model, then `ready`; `retired` after a run
 * timed out (it takes no more work and is stopped once the stuck run returns); `gone` once it exited.
 */
export class WorkerHandle {
  state: "starting" | "ready" | "retired" | "gone" = "starting";
  /** Ids of calls whose callers were already failed by a timeout; their replies are still awaited. */
  readonly abandoned = new Set<number>();
  /** Models loaded (or loading) in this worker; a second load of the same key shares the first. */
  readonly loads = new Map<string, Promise<LoadReply>>();
  readonly models = new Set<string>();
  readonly pending = new Map<number, PendingCall>();
  /** Settles when each call in flight settles; close() waits for these before terminating. */
  readonly inflight = new Set<Promise<void>>();
  wasReady = false;
  constructor(
    readonly worker: Worker,
    readonly index: number,
    /** Resolves when the thread has started (before it has loaded the models). */
    readonly started: Promise<void>,
  ) {}
}

export interface WorkerPoolOptions {
  size: number;
  /** onnxruntime intra-op threads per session; with one worker per core, 1 avoids oversubscription. */
  intraOpNumThreads: number;
  /** Called when a worker becomes ready (at start or after a replacement), so queued work can move. */
  onReady: () => void;
}

/**
 * A fixed set of inference worker threads. Every worker holds every loaded model, so any idle worker can
 * serve any request. A worker that dies (crash, or terminated after a run timeout) fails its in-flight
 * calls and is replaced by a fresh one that reloads the models before taking work.
 */
export class WorkerPool {
  private readonly handles: WorkerHandle[] = [];
  private readonly specs = new Map<string, LoadRequest>();
  /** Workers taken out of service after a timeout, until their stuck run returns. */
  private readonly retired = new Set<WorkerHandle>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {}

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.size }, (_, i) => this.spawn(i)));
  }

  ready(): WorkerHandle[] {
    return this.handles.filter((h) => h.state === "ready");
  }

  /** Loads a model into every worker; on any failure unloads it everywhere and rethrows. */
  async load(spec: LoadRequest): Promise<LoadReply> {
    this.specs.set(spec.key, spec);
    const targets = this.handles.filter((h) => h.state !== "gone");
    if (targets.length === 0) throw new Error("no inference worker is running");
    try {
      const replies = await Promise.all(
        targets.map(async (h) => {
          await h.started;
          return this.loadInto(h, spec);
        }),
      );
      return replies[0];
    } catch (err) {
      await this.unload(spec.key);
      throw err;
    }
  }

  async unload(key: string): Promise<void> {
    this.specs.delete(key);
    const holders = this.handles.filter((h) => h.state !== "gone" && h.loads.has(key));
    await Promise.allSettled(
      holders.map(async (h) => {
        const loading = h.loads.get(key);
        h.loads.delete(key);
        h.models.delete(key);
        await loading;
        await this.call(h, { type: "unload", key });
      }),
    );
  }

  /** Sends one request to one worker; `timeoutMs` kills and replaces the worker if it does not answer in time. */
  call<T>(
    handle: WorkerHandle,
    request: Request,
    transfer: ArrayBuffer[] = [],
    timeoutMs?: number,
  ): Promise<T> {
    if (handle.state === "gone") return Promise.reject(new Error("inference worker is gone"));
    const id = this.nextId++;
    const call = new Promise<T>((resolve, reject) => {
      const pending: PendingCall = { resolve: resolve as (v: unknown) => void, reject };
      if (timeoutMs !== undefined) {
        pending.timer = setTimeout(() => {
          handle.pending.delete(id);
          handle.abandoned.add(id);
          reject(new Error(`inference did not finish within ${timeoutMs} ms; its worker is being replaced`));
          this.retire(handle);
        }, timeoutMs);
      }
      handle.pending.set(id, pending);
      handle.worker.postMessage({ ...request, id }, transfer);
    });
    const settled = call.then(
      () => {},
      () => {},
    );
    handle.inflight.add(settled);
    void settled.then(() => handle.inflight.delete(settled));
    return call;
  }

  /**
   * Stops every worker once its calls in flight have settled (a run that times out settles then).
   * A worker still inside an abandoned run is unref'd and stopped when that run returns.
   */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.handles, ...this.retired];
    await Promise.all(
      all.map(async (h) => {
        await h.started.catch(() => {});
        while (h.inflight.size > 0) await Promise.all([...h.inflight]);
        if (h.state === "gone") return;
        if (h.abandoned.size === 0) {
          await h.worker.terminate();
        } else {
          h.state = "retired";
          h.worker.unref();
        }
      }),
    );
  }

  private loadInto(handle: WorkerHandle, spec: LoadRequest): Promise<LoadReply> {
    const existing = handle.loads.get(spec.key);
    if (existing) return existing;
    const loading = this.call<LoadReply>(handle, spec).then((reply) => {
      if (handle.loads.get(spec.key) === loading) handle.models.add(spec.key);
      return reply;
    });
    handle.loads.set(spec.key, loading);
    loading.catch(() => {
      if (handle.loads.get(spec.key) === loading) handle.loads.delete(spec.key);
    });
    return loading;
  }

  private async spawn(index: number): Promise<void> {
    const worker = createWorker();
    let onStarted: PendingCall | undefined;
    const started = new Promise<void>((resolve, reject) => {
      onStarted = { resolve: () => resolve(), reject };
    });
    // Nobody may be waiting on `started` (a failed start is also reported by this method).
    started.catch(() => {});
    const handle = new WorkerHandle(worker, index, started);
    handle.pending.set(0, onStarted!);
    this.handles[index] = handle;
    worker.on("message", (reply: WorkerReply) => {
      settle(handle, reply);
      if (handle.abandoned.delete(reply.id)) this.stopIfIdle(handle);
    });
    worker.on("error", (err) => failAll(handle, new Error(`inference worker crashed: ${err.message}`)));
    worker.on("exit", (code) => this.onExit(handle, code));
    await started;
    // Models loaded while this worker was starting are picked up too: loop until nothing is missing.
    // One that fails to load in this worker is skipped: the worker serves the others.
    const failed = new Set<string>();
    for (
      let missing = this.missing(handle, failed);
      missing.length > 0;
      missing = this.missing(handle, failed)
    ) {
      await Promise.all(missing.map((spec) => this.loadInto(handle, spec).catch(() => failed.add(spec.key))));
    }
    if (handle.state === "gone") throw new Error("inference worker exited while loading models");
    handle.state = "ready";
    handle.wasReady = true;
    this.options.onReady();
  }

  /**
   * Takes a worker with a stuck run out of service and starts its replacement at once. The worker
   * itself is terminated only when idle: terminating a thread inside onnxruntime's native run aborts
   * the whole process.
   */
  private retire(handle: WorkerHandle): void {
    if (handle.state === "gone" || handle.state === "retired") return;
    const wasReady = handle.wasReady;
    handle.state = "retired";
    this.retired.add(handle);
    if (this.closed || !wasReady || this.handles[handle.index] !== handle) return;
    this.spawn(handle.index).catch(() => {
      // As in onExit: a replacement that cannot start leaves the slot empty.
    });
  }

  private stopIfIdle(handle: WorkerHandle): void {
    if (handle.state === "retired" && handle.pending.size === 0 && handle.abandoned.size === 0) {
      this.retired.delete(handle);
      void handle.worker.terminate();
    }
  }

  private missing(handle: WorkerHandle, failed: Set<string>): LoadRequest[] {
    return [...this.specs.values()].filter((s) => !handle.models.has(s.key) && !failed.has(s.key));
  }

  private onExit(handle: WorkerHandle, code: number): void {
    handle.state = "gone";
    this.retired.delete(handle);
    failAll(handle, new Error(`inference worker exited (code ${code})`));
    // A worker that never became ready is not replaced: that would loop on a broken start.
    if (this.closed || !handle.wasReady || this.handles[handle.index] !== handle) return;
    this.spawn(handle.index).catch(() => {
      // A replacement that cannot start leaves the slot gone; the remaining workers keep serving.
    });
  }
}

function settle(handle: WorkerHandle, reply: WorkerReply): void {
  const pending = handle.pending.get(reply.id);
  if (!pending) return;
  handle.pending.delete(reply.id);
  if (pending.timer) clearTimeout(pending.timer);
  if (reply.ok) pending.resolve(reply.value);
  else pending.reject(fromWireError(reply.error));
}

function failAll(handle: WorkerHandle, err: Error): void {
  for (const [id, pending] of handle.pending) {
    handle.pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    pending.reject(err);
  }
}

export function fromWireError(e: WireError): Error {
  if (e.name === "InputError") return new InputError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/**
 * Compiled (dist/*.js): the worker is the sibling .js file. From source (tsx, vitest): a worker does not
 * inherit the parent's TypeScript loader, so a tiny bootstrap registers tsx inside it first.
 */
function createWorker(): Worker {
  const here = import.meta.url;
  if (!here.endsWith(".ts")) return new Worker(new URL("./inference-worker.js", here));
  const entry = new URL("./inference-worker.ts", here).href;
  const bootstrap =
    `import(${JSON.stringify(tsxApiUrl())})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true });
}

function tsxApiUrl(): string {
  const pkgPath = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as {
    exports: Record<string, { import: { default: string } }>;
  };
  return pathToFileURL(path.join(path.dirname(pkgPath), pkg.exports["./esm/api"].import.default)).href;
}
