import type { ModelDescriptor } from "../../registry/model-descriptor.js";
import type { BatchingOptions, LoadedModelInfo, ModelRunner } from "../runner/model-runner.js";
import type { VersionSource } from "./version-source.js";

/** A model version loaded into the runner under `key` (= the version id). */
export interface LoadedVersion {
  key: string;
  versionId: string;
  modelName: string;
  version: number;
  descriptor: ModelDescriptor;
  info: LoadedModelInfo;
}

/** Keeps a version loaded while held (batch prediction and other non-deployment users). */
export interface ModelHandle {
  runner: ModelRunner;
  model: LoadedVersion;
  release(): void;
}

export const DEFAULT_BATCHING: BatchingOptions = { maxBatchSize: 32, maxDelayMs: 0 };

export interface ModelPoolOptions {
  /** Created on first use, so a process that never serves starts no inference threads. */
  runner: () => Promise<ModelRunner>;
  source: VersionSource;
  /**
   * Dynamic batching of every loaded version (models with a dynamic batch dimension). The default,
   * `maxDelayMs: 0`, never delays a request: an idle worker runs it at once, and only requests that
   * queued behind busy workers share the next run (under load, fewer and larger inferences). `null`: off.
   */
  batching?: BatchingOptions | null;
  /** After a failed load, requests fail fast with the same error for this long before a retry. */
  retryAfterMs?: number;
  now?: () => number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

interface Slot {
  loading?: Promise<LoadedVersion>;
  loaded?: LoadedVersion;
  failed?: { error: Error; at: number };
  /** Requests running on it now. */
  inFlight: number;
  /** Handles held (acquire/release). */
  holds: number;
}

/**
 * Loads each model version once per process (with the runner's warm-up) and unloads it when nothing uses
 * it any more: no deployment references it (`sync`), no request runs on it (`beginUse`/`endUse`) and no
 * handle holds it. A request that was routed before a switch therefore finishes on the version it chose.
 */
export class ModelPool {
  private readonly slots = new Map<string, Slot>();
  private referenced = new Set<string>();
  private runnerPromise: Promise<ModelRunner> | undefined;
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: ModelPoolOptions) {
    this.now = options.now ?? Date.now;
  }

  runner(): Promise<ModelRunner> {
    this.runnerPromise ??= this.options.runner();
    return this.runnerPromise;
  }

  /** The loaded version, loading it first if needed; rejects with the load error (remembered for retryAfterMs). */
  ensure(versionId: string): Promise<LoadedVersion> {
    const slot = this.slot(versionId);
    if (slot.loaded) return Promise.resolve(slot.loaded);
    if (slot.loading) return slot.loading;
    if (slot.failed && this.now() - slot.failed.at < (this.options.retryAfterMs ?? 5000)) {
      return Promise.reject(slot.failed.error);
    }
    slot.loading = this.load(versionId).then(
      (loaded) => {
        slot.loaded = loaded;
        slot.failed = undefined;
        slot.loading = undefined;
        return loaded;
      },
      (err: Error) => {
        slot.failed = { error: err, at: this.now() };
        slot.loading = undefined;
        this.options.log?.("model version failed to load", { versionId, error: err.message });
        throw err;
      },
    );
    return slot.loading;
  }

  /** Loaded right now (no waiting). */
  loaded(versionId: string): LoadedVersion | undefined {
    return this.slots.get(versionId)?.loaded;
  }

  /** The last load error, while it is remembered. */
  loadError(versionId: string): Error | undefined {
    return this.slots.get(versionId)?.failed?.error;
  }

  beginUse(versionId: string): void {
    this.slot(versionId).inFlight++;
  }

  endUse(versionId: string): void {
    const slot = this.slots.get(versionId);
    if (!slot) return;
    slot.inFlight--;
    if (slot.inFlight === 0) void this.unloadIfIdle(versionId);
  }

  /** Keeps a version loaded until `release()`; for callers outside deployments (batch prediction). */
  async acquire(versionId: string): Promise<ModelHandle> {
    const slot = this.slot(versionId);
    slot.holds++;
    try {
      const model = await this.ensure(versionId);
      let released = false;
      return {
        runner: await this.runner(),
        model,
        release: () => {
          if (released) return;
          released = true;
          slot.holds--;
          void this.unloadIfIdle(versionId);
        },
      };
    } catch (err) {
      slot.holds--;
      throw err;
    }
  }

  /** The versions deployments reference now: loads (warms) the new ones, unloads the idle others. */
  async sync(referenced: Set<string>): Promise<void> {
    this.referenced = referenced;
    const loads = [...referenced].map((id) =>
      this.ensure(id).then(
        () => undefined,
        () => undefined,
      ),
    );
    for (const id of [...this.slots.keys()]) if (!referenced.has(id)) await this.unloadIfIdle(id);
    await Promise.all(loads);
  }

  async close(): Promise<void> {
    this.closed = true;
    const runner = this.runnerPromise;
    this.runnerPromise = undefined;
    this.slots.clear();
    if (runner) await (await runner.catch(() => undefined))?.close();
  }

  private slot(versionId: string): Slot {
    let slot = this.slots.get(versionId);
    if (!slot) {
      slot = { inFlight: 0, holds: 0 };
      this.slots.set(versionId, slot);
    }
    return slot;
  }

  private async load(versionId: string): Promise<LoadedVersion> {
    const resolved = await this.options.source.resolve(versionId);
    const runner = await this.runner();
    if (this.closed) throw new Error("serving is shutting down");
    const info = await runner.load({
      key: versionId,
      modelPath: resolved.modelPath,
      descriptor: resolved.descriptor,
      batching: this.options.batching === null ? undefined : (this.options.batching ?? DEFAULT_BATCHING),
    });
    return {
      key: versionId,
      versionId,
      modelName: resolved.modelName,
      version: resolved.version,
      descriptor: resolved.descriptor,
      info,
    };
  }

  private async unloadIfIdle(versionId: string): Promise<void> {
    const slot = this.slots.get(versionId);
    if (!slot || this.referenced.has(versionId) || slot.inFlight > 0 || slot.holds > 0 || slot.loading)
      return;
    this.slots.delete(versionId);
    if (slot.loaded && this.runnerPromise) {
      const runner = await this.runnerPromise;
      await runner.unload(versionId);
      this.options.log?.("model version unloaded", { versionId });
    }
  }
}
