import type { Principal } from "../auth/principal.js";
import type { PipelineRun, PipelineState, RunPatch } from "./pipeline-run.js";
import type { PipelinePorts } from "./ports.js";

/** What a step handler decided: stay in the step for now, or move on. */
export type StepOutcome =
  | {
      kind: "wait";
      /** Why it waits (shown in `pipeline show`), e.g. "job running". */
      note?: string;
      patch?: RunPatch;
      details?: Record<string, unknown>;
      jobId?: string;
    }
  | {
      kind: "next";
      to: PipelineState;
      reason: string;
      patch?: RunPatch;
      /** Recorded on the step that ends (the evidence: figures, ids, decisions). */
      details?: Record<string, unknown>;
    };

export interface StepContext {
  ports: PipelinePorts;
  /** The principal the pipeline acts as (audited as `system/retrain`; jobs run as the policy's owner). */
  principal: Principal;
  actor: string;
  now: () => number;
  log: (message: string, details: Record<string, unknown>) => void;
}

/** A step: idempotent, so that running it again after a crash is safe. */
export type StepHandler = (run: PipelineRun, ctx: StepContext) => Promise<StepOutcome>;

export const PIPELINE_ACTOR = "system/retrain";

/** The pipeline acts with full rights in the registry (audited by name); the job's token goes to the owner. */
export function pipelinePrincipal(ownerId: string): Principal {
  return { userId: ownerId, userName: PIPELINE_ACTOR, role: "admin", tokenId: "" };
}

export function next(
  to: PipelineState,
  reason: string,
  extra: { patch?: RunPatch; details?: Record<string, unknown> } = {},
): StepOutcome {
  return { kind: "next", to, reason, ...extra };
}

export function wait(
  note: string,
  extra: Omit<Extract<StepOutcome, { kind: "wait" }>, "kind" | "note"> = {},
): StepOutcome {
  return { kind: "wait", note, ...extra };
}
