import { type Deployment, modelVersionKey } from "../deployments/deployment.js";
import type { DeploymentStore } from "../deployments/deployment-store.js";
import type { ModelPool } from "./model-pool.js";
import type { ServingMetrics } from "./serving-metrics.js";

export interface DeploymentTableOptions {
  /** Background poll of the generation counter (every process, leader or not). */
  pollMs?: number;
  /** A request checks the counter itself when the last check is older than this. */
  staleMs?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * This process's view of the deployments, for the request path: a map read synchronously. Every change
 * bumps one generation counter in the database (same transaction); the table polls that counter (a
 * one-row read) and reloads the deployments only when it moved. Requests also check it when the last
 * check is stale, so a process without the background poll still sees other processes' changes within
 * `staleMs`. After a reload the model pool loads newly referenced versions and unloads idle ones.
 */
export class DeploymentTable {
  readonly name = "serving-deployment-table";
  /** Names are unique per project only: one name may map to deployments of several projects. */
  private byName = new Map<string, Deployment[]>();
  private generation = -1;
  private lastCheck = 0;
  private checking: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly pollMs: number;
  private readonly staleMs: number;

  constructor(
    private readonly store: DeploymentStore,
    private readonly pool: ModelPool,
    private readonly metrics: ServingMetrics,
    private readonly options: DeploymentTableOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 1000;
    this.staleMs = options.staleMs ?? 1000;
  }

  /** The deployments with this name (of any project) as this process serves them now. Never waits. */
  get(name: string): Deployment[] {
    this.checkIfStale();
    return this.byName.get(name) ?? [];
  }

  /**
   * Like `get`, but a name this process does not know yet triggers a check first (created elsewhere).
   * Which one a caller means, and whether it may see it, is deployment-ref.ts's business.
   */
  async named(name: string): Promise<Deployment[]> {
    const known = this.get(name);
    if (known.length > 0) return known;
    await this.refreshIfChanged();
    return this.byName.get(name) ?? [];
  }

  all(): Deployment[] {
    return [...this.byName.values()].flat();
  }

  /** Reloads when the generation moved (one-row read otherwise). Concurrent callers share one check. */
  refreshIfChanged(force = false): Promise<void> {
    if (this.checking && !force) return this.checking;
    const run = (async () => {
      this.lastCheck = Date.now();
      const generation = await this.store.generation();
      if (generation === this.generation && !force) return;
      const deployments = await this.store.list();
      const byName = new Map<string, Deployment[]>();
      for (const d of deployments) byName.set(d.name, [...(byName.get(d.name) ?? []), d]);
      this.byName = byName;
      this.generation = generation;
      this.metrics.setWeights(
        deployments.flatMap((d) => [
          {
            deployment: d.name,
            version: modelVersionKey(d.modelName, d.primaryVersion),
            weight: 100 - d.canaryWeight,
          },
          ...(d.canaryVersion !== null
            ? [
                {
                  deployment: d.name,
                  version: modelVersionKey(d.modelName, d.canaryVersion),
                  weight: d.canaryWeight,
                },
              ]
            : []),
        ]),
      );
      const referenced = new Set<string>();
      for (const d of deployments) {
        referenced.add(d.primaryVersionId);
        if (d.canaryVersionId) referenced.add(d.canaryVersionId);
      }
      // Loading happens in the background: a request for a version still loading waits for it itself.
      void this.pool
        .sync(referenced)
        .catch((err: Error) => this.options.log?.("model sync failed", { error: err.message }));
    })();
    const shared = run.finally(() => {
      if (this.checking === shared) this.checking = undefined;
    });
    this.checking = shared;
    return shared;
  }

  /** Forces a reload (after this process changed a deployment itself). */
  refresh(): Promise<void> {
    return this.refreshIfChanged(true);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.checking?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.refreshIfChanged()
        .catch((err: Error) => this.options.log?.("deployment poll failed", { error: err.message }))
        .finally(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }

  private checkIfStale(): void {
    if (this.checking || Date.now() - this.lastCheck < this.staleMs) return;
    this.refreshIfChanged().catch((err: Error) =>
      this.options.log?.("deployment check failed", { error: err.message }),
    );
  }
}
