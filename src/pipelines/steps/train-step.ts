import type { Job } from "../../jobs/job.js";
import { LINEAGE_TAGS } from "../../tracking/model.js";
import { PIPELINE_TAGS } from "../lineage.js";
import type { PipelineRun } from "../pipeline-run.js";
import { next, type StepContext, type StepHandler, wait } from "../step-context.js";

/** Environment of a retraining job, on top of the workload contract (docs/jobs-and-workloads.md: snapshot and base model). */
export const PIPELINE_ENV = {
  pipelineRun: "MLOPS_PIPELINE_RUN",
  snapshot: "MLOPS_DATASET_SNAPSHOT",
  baseModel: "MLOPS_BASE_MODEL",
  model: "MLOPS_MODEL_NAME",
} as const;

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/**
 * Fine-tunes a candidate as a job on the scheduler. Resumable: a run that already has a job follows it;
 * one that crashed between submitting and recording finds its job again by the pipeline-run variable in
 * the job's environment, so a restart never submits a second job. A job whose process was lost is the
 * jobs reconciler's business (retried or failed); this step only reads the job's final state.
 */
export const trainStep: StepHandler = async (run, ctx) => {
  let job = run.jobId ? await ctx.ports.jobs.get(ctx.principal, run.jobId) : await findSubmitted(run, ctx);
  if (!job) {
    job = await submit(run, ctx);
    ctx.log("retraining job submitted", { pipeline: run.id, job: job.id });
  }
  if (!run.jobId || !run.runId) {
    await tagLineage(run, job, ctx);
    return wait(`job ${job.id} ${job.state}`, {
      patch: { jobId: job.id, runId: job.runId ?? null },
      jobId: job.id,
      details: { job: job.id, run: job.runId },
    });
  }
  if (!TERMINAL.has(job.state))
    return wait(`job ${job.id} ${job.state}`, { details: { jobState: job.state } });
  if (job.state !== "succeeded") {
    return next("failed", `training job ${job.id} ${job.state}: ${job.stateReason}`, {
      details: { jobState: job.state, jobReason: job.stateReason },
    });
  }
  const version = await registerCandidate(run, job, ctx);
  return next("evaluate", `candidate ${run.modelName} version ${version.version} from job ${job.id}`, {
    patch: { candidateVersion: version.version, candidateVersionId: version.id },
    details: { jobState: job.state, candidateVersion: version.version, run: job.runId },
  });
};

async function findSubmitted(run: PipelineRun, ctx: StepContext): Promise<Job | undefined> {
  const { jobs } = await ctx.ports.jobs.list(ctx.principal, { project: run.projectId, limit: 500 });
  return jobs.find((job) => job.env[PIPELINE_ENV.pipelineRun] === run.id);
}

async function submit(run: PipelineRun, ctx: StepContext): Promise<Job> {
  if (!run.snapshotId) throw new Error(`pipeline ${run.id} reached training without a snapshot`);
  const env: Record<string, string> = {
    ...run.job.env,
    [PIPELINE_ENV.pipelineRun]: run.id,
    [PIPELINE_ENV.snapshot]: run.snapshotId,
    [PIPELINE_ENV.model]: run.modelName,
  };
  if (run.baseVersion !== null) env[PIPELINE_ENV.baseModel] = `${run.modelName}:${run.baseVersion}`;
  return ctx.ports.jobs.submit(ctx.principal, {
    project: run.projectId,
    name: `retrain ${run.modelName} (pipeline ${run.id.slice(0, 8)})`,
    command: run.job.command,
    env,
    resources: {
      cpu: run.job.cpu,
      memoryMiB: run.job.memoryMiB,
      gpus: run.job.gpus,
      ...(run.job.gpuType ? { gpuType: run.job.gpuType } : {}),
    },
    timeoutSeconds: run.job.timeoutSeconds,
    maxRetries: run.job.maxRetries,
    codeDigest: run.job.codeDigest ?? (await ctx.ports.code.bundledExampleDigest()),
    experiment: "retrain",
  });
}

/** The run records what it was trained on and from, whatever the training script logs itself. */
async function tagLineage(run: PipelineRun, job: Job, ctx: StepContext): Promise<void> {
  if (!job.runId || !run.snapshotId) return;
  const tags = [
    { key: LINEAGE_TAGS.datasetSnapshot, value: run.snapshotId },
    { key: PIPELINE_TAGS.pipelineRun, value: run.id },
  ];
  if (run.baseVersion !== null) {
    tags.push({ key: LINEAGE_TAGS.baseModelVersion, value: `${run.modelName}:${run.baseVersion}` });
  }
  await ctx.ports.tracking.logBatch(ctx.principal, job.runId, { tags });
}

/** The version the job's run produced: the one the script registered itself, else registered here. */
async function registerCandidate(run: PipelineRun, job: Job, ctx: StepContext) {
  if (!job.runId) throw new Error(`job ${job.id} has no tracking run`);
  const found = await ctx.ports.registry.searchVersions(ctx.principal, run.projectId, {
    modelName: run.modelName,
    runId: job.runId,
  });
  if (found.length > 0) return found[0];
  return ctx.ports.registry.createVersion(
    ctx.principal,
    run.projectId,
    run.modelName,
    { kind: "run", runId: job.runId, path: "model" },
    {
      description: `retrained by pipeline ${run.id} from ${run.baseVersion === null ? "scratch" : `version ${run.baseVersion}`}`,
      tags: {
        [PIPELINE_TAGS.pipelineRun]: run.id,
        ...(run.baseVersion !== null
          ? { [PIPELINE_TAGS.baseModel]: `${run.modelName}:${run.baseVersion}` }
          : {}),
        [LINEAGE_TAGS.datasetSnapshot]: run.snapshotId ?? "",
      },
    },
  );
}
