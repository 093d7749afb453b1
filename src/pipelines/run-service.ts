import type { Principal } from "../auth/principal.js";
import { ConflictError, InputError, NotFoundError } from "../errors.js";
import type { LogChunk } from "../runtime/runtime.js";
import type { PipelineEngine } from "./pipeline-engine.js";
import {
  isEndState,
  PIPELINE_TRANSITIONS,
  type PipelineRun,
  type PipelineState,
  type PipelineStep,
} from "./pipeline-run.js";
import type { PipelineStore } from "./pipeline-store.js";
import type { ProjectLookup } from "./policy-service.js";
import type { PipelinePorts } from "./ports.js";

const STATES = Object.keys(PIPELINE_TRANSITIONS) as PipelineState[];

/** Pipeline runs as people see them: `mlops pipeline list|show|logs|cancel`. */
export class PipelineRunService {
  constructor(
    private readonly deps: {
      store: PipelineStore;
      engine: PipelineEngine;
      ports: Pick<PipelinePorts, "registry" | "jobs">;
      projects: ProjectLookup;
    },
  ) {}

  async list(
    principal: Principal,
    query: { project?: string; model?: string; states?: string[]; limit?: number },
  ): Promise<PipelineRun[]> {
    const states = (query.states ?? []).map((s) => {
      if (!STATES.includes(s as PipelineState))
        throw new InputError(`unknown pipeline state '${s}': use ${STATES.join(", ")}`);
      return s as PipelineState;
    });
    let projectIds: string[];
    let modelId: string | undefined;
    if (query.model) {
      const model = await this.deps.ports.registry.getModel(
        principal,
        query.project ?? "default",
        query.model,
      );
      projectIds = [model.projectId];
      modelId = model.id;
    } else if (query.project) {
      projectIds = [(await this.deps.projects.getProject(principal, query.project, "read")).id];
    } else {
      projectIds = (await this.deps.projects.listProjects(principal)).map((p) => p.id);
    }
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    return this.deps.store.listRuns({ projectIds, modelId, states, limit });
  }

  async get(principal: Principal, id: string): Promise<PipelineRun> {
    const run = await this.deps.store.getRun(id);
    if (!run) throw new NotFoundError(`pipeline run ${id} not found`);
    await this.deps.projects.getProject(principal, run.projectId, "read");
    return run;
  }

  async show(principal: Principal, id: string): Promise<{ run: PipelineRun; steps: PipelineStep[] }> {
    const run = await this.get(principal, id);
    return { run, steps: await this.deps.store.steps(run.id) };
  }

  /** The logs of a step's job (default: the train step's). */
  async logs(
    principal: Principal,
    id: string,
    step = "train",
  ): Promise<{ jobId: string; chunks: AsyncIterable<LogChunk> }> {
    const run = await this.get(principal, id);
    const row = (await this.deps.store.steps(run.id)).filter((s) => s.step === step && s.jobId).pop();
    const jobId = row?.jobId ?? (step === "train" ? run.jobId : null);
    if (!jobId) throw new NotFoundError(`pipeline ${run.id} has no job for step ${step} (yet)`);
    return { jobId, chunks: await this.deps.ports.jobs.readLogs(principal, jobId, { replicaIndex: 0 }) };
  }

  /** Stops a run where it is; its training job, if one runs, is cancelled too. */
  async cancel(principal: Principal, id: string, reason?: string): Promise<PipelineRun> {
    const run = await this.get(principal, id);
    await this.deps.projects.getProject(principal, run.projectId, "write");
    if (isEndState(run.state)) throw new ConflictError(`pipeline ${run.id} has already ended (${run.state})`);
    const cancelled = await this.deps.engine.applyTransition(
      run,
      "cancelled",
      reason?.trim() || `cancelled by ${principal.userName}`,
    );
    if (run.state === "train" && run.jobId) {
      const job = await this.deps.ports.jobs.get(principal, run.jobId);
      if (!["succeeded", "failed", "cancelled"].includes(job.state))
        await this.deps.ports.jobs.cancel(principal, job.id);
    }
    return cancelled;
  }
}
