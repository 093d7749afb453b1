import { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";
import type { PipelineEngine } from "./pipeline-engine.js";
import type { PipelineStore } from "./pipeline-store.js";
import type { TriggerService } from "./trigger-service.js";

const STEPS_PER_TICK = 10;

export interface PipelineLoopOptions {
  store: PipelineStore;
  engine: PipelineEngine;
  triggers: TriggerService;
  /** Work happens only while this is true (the leader lease). */
  isLeader: () => boolean;
  tickMs?: number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/**
 * The retraining loop, in the leader only: each tick checks every policy's trigger, then runs the current
 * step of every active pipeline run once. Ticks never overlap. After a restart (or a leader change) the
 * first tick simply continues every run at the step the database says it is in.
 */
export class PipelineLoop {
  readonly name = "retrain-pipelines";
  private stopping = false;
  private readonly loop: PeriodicLeaderLoop;

  constructor(private readonly o: PipelineLoopOptions) {
    this.loop = new PeriodicLeaderLoop({
      name: this.name,
      intervalMs: o.tickMs ?? 1000,
      isLeader: o.isLeader,
      pass: () => this.tick(),
      log: (message, details) => o.log?.("retrain loop pass failed", { message, ...details }),
    });
  }

  start(): void {
    this.stopping = false;
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop.stop();
  }

  /** One pass (tests call it directly instead of waiting for the timer). */
  async tick(): Promise<void> {
    if (!this.o.isLeader()) return;
    await this.o.triggers.checkAll();
    for (const run of await this.o.store.activeRuns()) {
      if (this.stopping) break;
      try {
        // A step that ended hands over to the next one at once (a run does not wait a tick per step).
        let state = run.state;
        for (let steps = 0; steps < STEPS_PER_TICK; steps++) {
          const after = await this.o.engine.advance(run.id);
          if (!after || after.state === state || this.stopping) break;
          state = after.state;
        }
      } catch (err) {
        this.o.log?.("pipeline step could not be applied", {
          pipeline: run.id,
          error: (err as Error).message,
        });
      }
    }
  }
}
