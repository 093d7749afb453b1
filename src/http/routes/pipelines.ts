import { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { DEFAULT_PROJECT } from "../../auth/identity-service.js";
import type { PipelineStep } from "../../pipelines/pipeline-run.js";
import type { TriggerStatus } from "../../pipelines/trigger-service.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import {
  IdParams,
  ModelParams,
  PolicyBody,
  PolicyReply,
  ProjectQuery,
  RunReply,
  StepReply,
  TriggerStatusReply,
} from "./pipelines-schemas.js";

const tags = ["pipelines"];
const projectOf = (query: { project?: string }) => query.project || DEFAULT_PROJECT;

function statusReply(status: TriggerStatus) {
  return {
    newLabels: status.newLabels,
    basisSnapshot: status.basis.snapshot?.id ?? null,
    basisSource: status.basis.source,
    fires: status.decision.fire,
    reason: status.decision.reason,
    ...(!status.decision.fire && status.decision.cooldownUntil
      ? { cooldownUntil: status.decision.cooldownUntil }
      : {}),
    activeRun: status.activeRun,
    productionVersion: status.productionVersion,
  };
}

function stepReply(step: PipelineStep) {
  return { ...step, durationMs: step.finishedAt === null ? null : step.finishedAt - step.startedAt };
}

/** Retrain policies (`/api/v1/retrain-policies/:model`) and pipeline runs (`/api/v1/pipelines`). */
export const pipelineRoutes: RouteModule = (app, platform) => {
  const { policies, runs, triggers } = platform.pipelines;

  app.put(
    "/api/v1/retrain-policies/:model",
    {
      schema: {
        tags,
        summary: "Create or replace a model's retrain policy",
        params: ModelParams,
        querystring: ProjectQuery,
        body: PolicyBody,
        response: { 200: PolicyReply },
      },
    },
    async (request) =>
      policies.set(
        principalOf(request),
        projectOf(request.query),
        request.params.model,
        // timeoutSeconds is an integer >= 1 or null (pipelines-schemas.ts), typed loosely by TypeBox.
        request.body as typeof request.body & { timeoutSeconds?: number | null },
      ),
  );

  app.get(
    "/api/v1/retrain-policies",
    {
      schema: {
        tags,
        summary: "Retrain policies of a project (or of every readable project)",
        querystring: ProjectQuery,
        response: { 200: Type.Object({ policies: Type.Array(PolicyReply) }) },
      },
    },
    async (request) => ({ policies: await policies.list(principalOf(request), request.query.project) }),
  );

  app.get(
    "/api/v1/retrain-policies/:model",
    {
      schema: {
        tags,
        summary: "A model's retrain policy and what its trigger sees now",
        params: ModelParams,
        querystring: ProjectQuery,
        response: { 200: Type.Object({ policy: PolicyReply, trigger: TriggerStatusReply }) },
      },
    },
    async (request) => {
      const policy = await policies.get(principalOf(request), projectOf(request.query), request.params.model);
      return { policy, trigger: statusReply(await triggers.status(policy)) };
    },
  );

  for (const action of ["pause", "resume"] as const) {
    app.post(
      `/api/v1/retrain-policies/:model/${action}`,
      {
        schema: {
          tags,
          summary: action === "pause" ? "Stop the trigger from firing" : "Let the trigger fire again",
          params: ModelParams,
          querystring: ProjectQuery,
          response: { 200: PolicyReply },
        },
      },
      async (request) =>
        policies.setPaused(
          principalOf(request),
          projectOf(request.query),
          request.params.model,
          action === "pause",
        ),
    );
  }

  app.get(
    "/api/v1/pipelines",
    {
      schema: {
        tags,
        summary: "Pipeline runs, newest first",
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          model: Type.Optional(Type.String()),
          state: Type.Optional(Type.String({ description: "comma-separated states" })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: { 200: Type.Object({ pipelines: Type.Array(RunReply) }) },
      },
    },
    async (request) => ({
      pipelines: await runs.list(principalOf(request), {
        project: request.query.project,
        model: request.query.model,
        states: request.query.state
          ? request.query.state
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
        limit: request.query.limit,
      }),
    }),
  );

  app.get(
    "/api/v1/pipelines/:id",
    {
      schema: {
        tags,
        summary: "A pipeline run with its steps (status, timing, reasons, evidence)",
        params: IdParams,
        response: { 200: Type.Object({ pipeline: RunReply, steps: Type.Array(StepReply) }) },
      },
    },
    async (request) => {
      const { run, steps } = await runs.show(principalOf(request), request.params.id);
      return { pipeline: run, steps: steps.map(stepReply) };
    },
  );

  app.get(
    "/api/v1/pipelines/:id/logs",
    {
      schema: {
        tags,
        summary: "The logs of a step's job (default: train)",
        params: IdParams,
        querystring: Type.Object({ step: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      const { jobId, chunks } = await runs.logs(principalOf(request), request.params.id, request.query.step);
      const body = Readable.from(
        (async function* () {
          for await (const chunk of chunks) yield chunk.data;
        })(),
      );
      return reply.header("x-mlops-job-id", jobId).type("text/plain; charset=utf-8").send(body);
    },
  );

  app.post(
    "/api/v1/pipelines/:id/cancel",
    {
      schema: {
        tags,
        summary: "Stop a pipeline run where it is",
        params: IdParams,
        body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) })),
        response: { 200: RunReply },
      },
    },
    async (request) => runs.cancel(principalOf(request), request.params.id, request.body?.reason),
  );
};
