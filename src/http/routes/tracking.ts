import { Readable } from "node:stream";
import { type TSchema, Type } from "@sinclair/typebox";
import { type Run, LINEAGE_TAGS, lineageOf } from "../../tracking/model.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

/** The native tracking API: experiments, runs, logging, histories, comparison, run artifacts. */

const KV = Type.Object({ key: Type.String(), value: Type.String() });
const MetricIn = Type.Object({
  key: Type.String(),
  value: Type.Union([Type.Number(), Type.String()]),
  timestamp: Type.Optional(Type.Integer()),
  step: Type.Optional(Type.Integer()),
});
const ExperimentReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  name: Type.String(),
  artifactLocation: Type.String(),
  lifecycleStage: Type.String(),
  creationTime: Type.Integer(),
  lastUpdateTime: Type.Integer(),
  createdBy: Type.String(),
  tags: Type.Record(Type.String(), Type.String()),
});
const MetricReply = Type.Object({
  value: Type.Union([Type.Number(), Type.String()]),
  step: Type.Integer(),
  timestamp: Type.Integer(),
});
const RunReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  experimentId: Type.String(),
  projectId: Type.String(),
  status: Type.String(),
  startTime: Type.Integer(),
  endTime: Type.Union([Type.Integer(), Type.Null()]),
  lifecycleStage: Type.String(),
  user: Type.String(),
  artifactUri: Type.String(),
  params: Type.Record(Type.String(), Type.String()),
  metrics: Type.Record(Type.String(), MetricReply),
  tags: Type.Record(Type.String(), Type.String()),
  lineage: Type.Record(Type.String(), Type.String()),
});
const RunParams = Type.Object({ runId: Type.String() });
const Lineage = Type.Object(
  Object.fromEntries(
    Object.keys(LINEAGE_TAGS).map((k) => [k, Type.Optional(Type.String({ maxLength: 1000 }))]),
  ) as Record<string, TSchema>,
  { additionalProperties: false },
);

/** JSON has no NaN/Infinity: they are sent as strings, as MLflow does. */
function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

export function nativeRun(run: Run) {
  const { info } = run;
  return {
    id: info.runId,
    name: info.runName,
    experimentId: info.experimentId,
    projectId: info.projectId,
    status: info.status,
    startTime: info.startTime,
    endTime: info.endTime,
    lifecycleStage: info.lifecycleStage,
    user: info.userId,
    artifactUri: info.artifactUri,
    params: run.params,
    metrics: Object.fromEntries(
      run.metrics.map((m) => [m.key, { value: jsonNumber(m.value), step: m.step, timestamp: m.timestamp }]),
    ),
    tags: run.tags,
    lineage: lineageOf(run.tags) as Record<string, string>,
  };
}

function csv(value: string | undefined): string[] | undefined {
  return value
    ? value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
}

export const trackingRoutes: RouteModule = async (app, { tracking, runQueries, runArtifacts }) => {
  app.post(
    "/api/v1/experiments",
    {
      schema: {
        tags: ["tracking"],
        summary: "Create an experiment",
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 500 }),
            project: Type.Optional(Type.String()),
            tags: Type.Optional(Type.Array(KV)),
          },
          { additionalProperties: false },
        ),
        response: { 201: ExperimentReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await tracking.createExperiment(principalOf(request), request.body)),
  );

  app.get(
    "/api/v1/experiments",
    {
      schema: {
        tags: ["tracking"],
        summary: "Experiments of a project",
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          view: Type.Optional(
            Type.Union([Type.Literal("active"), Type.Literal("deleted"), Type.Literal("all")]),
          ),
        }),
        response: { 200: Type.Object({ experiments: Type.Array(ExperimentReply) }) },
      },
    },
    async (request) => ({
      experiments: await tracking.listExperiments(
        principalOf(request),
        request.query.project ?? "default",
        request.query.view ?? "active",
      ),
    }),
  );

  app.get(
    "/api/v1/experiments/:id",
    {
      schema: {
        tags: ["tracking"],
        summary: "One experiment",
        params: Type.Object({ id: Type.String() }),
        response: { 200: ExperimentReply },
      },
    },
    async (request) => tracking.getExperiment(principalOf(request), request.params.id),
  );

  app.post(
    "/api/v1/runs",
    {
      schema: {
        tags: ["tracking"],
        summary: "Create a run",
        body: Type.Object(
          {
            experimentId: Type.String(),
            name: Type.Optional(Type.String({ maxLength: 250 })),
            tags: Type.Optional(Type.Array(KV, { maxItems: 100 })),
            lineage: Type.Optional(Lineage),
          },
          { additionalProperties: false },
        ),
        response: { 201: RunReply },
      },
    },
    async (request, reply) => {
      const { experimentId, name, tags = [], lineage = {} } = request.body;
      const lineageTags = Object.entries(lineage as Record<string, string | undefined>).flatMap(
        ([field, value]) =>
          value === undefined ? [] : [{ key: LINEAGE_TAGS[field as keyof typeof LINEAGE_TAGS], value }],
      );
      const run = await tracking.createRun(principalOf(request), {
        experimentId,
        runName: name,
        tags: [...tags, ...lineageTags],
      });
      return reply.status(201).send(nativeRun(run));
    },
  );

  app.get(
    "/api/v1/runs",
    {
      schema: {
        tags: ["tracking"],
        summary: "Search runs (MLflow filter and order_by syntax)",
        querystring: Type.Object({
          experimentId: Type.String({ description: "one id, or several separated by commas" }),
          filter: Type.Optional(Type.String()),
          orderBy: Type.Optional(Type.Array(Type.String())),
          view: Type.Optional(
            Type.Union([Type.Literal("ACTIVE_ONLY"), Type.Literal("DELETED_ONLY"), Type.Literal("ALL")]),
          ),
          maxResults: Type.Optional(Type.Integer({ minimum: 1, maximum: 50000 })),
          pageToken: Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({ runs: Type.Array(RunReply), nextPageToken: Type.Optional(Type.String()) }),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const result = await runQueries.searchRuns(principalOf(request), {
        experimentIds: csv(q.experimentId) ?? [],
        filter: q.filter,
        orderBy: q.orderBy,
        viewType: q.view,
        maxResults: q.maxResults ?? 100,
        pageToken: q.pageToken,
      });
      return { runs: result.runs.map(nativeRun), nextPageToken: result.nextPageToken };
    },
  );

  app.get(
    "/api/v1/runs/compare",
    {
      schema: {
        tags: ["tracking"],
        summary: "A table of chosen params and metrics (latest values) across runs",
        querystring: Type.Object({
          runIds: Type.String({ description: "comma-separated run ids" }),
          params: Type.Optional(Type.String()),
          metrics: Type.Optional(Type.String()),
        }),
      },
    },
    async (request) =>
      runQueries.compare(principalOf(request), csv(request.query.runIds) ?? [], {
        params: csv(request.query.params),
        metrics: csv(request.query.metrics),
      }),
  );

  app.get(
    "/api/v1/runs/:runId",
    { schema: { tags: ["tracking"], summary: "One run", params: RunParams, response: { 200: RunReply } } },
    async (request) => nativeRun(await tracking.getRun(principalOf(request), request.params.runId)),
  );

  app.patch(
    "/api/v1/runs/:runId",
    {
      schema: {
        tags: ["tracking"],
        summary: "Update a run's status, end time or name",
        params: RunParams,
        body: Type.Object(
          {
            status: Type.Optional(Type.String()),
            endTime: Type.Optional(Type.Integer()),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 250 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: RunReply },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { status, endTime, name } = request.body;
      await tracking.updateRun(principal, request.params.runId, { status, endTime, runName: name });
      return nativeRun(await tracking.getRun(principal, request.params.runId));
    },
  );

  app.post(
    "/api/v1/runs/:runId/log",
    {
      schema: {
        tags: ["tracking"],
        summary: "Log metrics, params and tags in one transaction (MLflow's limits)",
        params: RunParams,
        body: Type.Object(
          {
            metrics: Type.Optional(Type.Array(MetricIn)),
            params: Type.Optional(Type.Array(KV)),
            tags: Type.Optional(Type.Array(KV)),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      await tracking.logBatch(principalOf(request), request.params.runId, request.body);
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/runs/:runId/metrics/:key",
    {
      schema: {
        tags: ["tracking"],
        summary: "A metric's history, downsampled on the server to at most maxPoints points",
        params: Type.Object({ runId: Type.String(), key: Type.String() }),
        querystring: Type.Object({ maxPoints: Type.Optional(Type.Integer({ minimum: 2, maximum: 10000 })) }),
      },
    },
    async (request) =>
      runQueries.downsampledHistory(
        principalOf(request),
        request.params.runId,
        request.params.key,
        request.query.maxPoints ?? 1000,
      ),
  );

  app.get(
    "/api/v1/runs/:runId/artifacts",
    {
      schema: {
        tags: ["tracking"],
        summary: "Files and directories directly inside a run's artifact directory",
        params: RunParams,
        querystring: Type.Object({ path: Type.Optional(Type.String()) }),
      },
    },
    async (request) => ({
      entries: await runArtifacts.list(principalOf(request), request.params.runId, request.query.path),
    }),
  );

  app.get(
    "/api/v1/runs/:runId/artifacts/*",
    {
      schema: {
        tags: ["tracking"],
        summary: "Download a run's file",
        params: Type.Object({ runId: Type.String(), "*": Type.String() }),
      },
    },
    async (request, reply) => {
      const { artifact, stream } = await runArtifacts.open(
        principalOf(request),
        request.params.runId,
        request.params["*"],
      );
      return reply
        .type("application/octet-stream")
        .header("content-length", artifact.size)
        .header("x-content-sha256", artifact.sha256)
        .send(stream);
    },
  );

  // Uploads take any content type and are streamed into the artifact store, never buffered.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    scope.put(
      "/api/v1/runs/:runId/artifacts/*",
      {
        schema: {
          tags: ["tracking"],
          summary: "Upload a run's file (raw body; optional x-content-sha256 is verified)",
          params: Type.Object({ runId: Type.String(), "*": Type.String() }),
        },
      },
      async (request, reply) => {
        const params = request.params as { runId: string; "*": string };
        const sha = request.headers["x-content-sha256"];
        const artifact = await runArtifacts.upload(
          principalOf(request),
          params.runId,
          params["*"],
          (request.body as Readable | undefined) ?? Readable.from([]),
          typeof sha === "string" ? sha : undefined,
        );
        return reply.status(201).send(artifact);
      },
    );
  });
};
