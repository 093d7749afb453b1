import { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import type { Principal } from "../../auth/principal.js";
import { publicUrlOf } from "../../config.js";
import { NotFoundError } from "../../errors.js";
import { parseExportFormat } from "../../serving/batch/batch-results.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

const tags = ["batch-predictions"];
const BASE = "/api/v1/batch-predictions";
const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
const ChunkParams = Type.Object({ id: Type.String({ maxLength: 128 }), index: Type.Integer({ minimum: 0 }) });
/** A file list of a million paths fits. */
const CREATE_BODY_LIMIT = 128 * 1024 * 1024;

const Progress = Type.Object({
  done: Type.Integer(),
  total: Type.Integer(),
  chunksDone: Type.Integer(),
  chunkCount: Type.Integer(),
  imagesPerSecond: Type.Union([Type.Number(), Type.Null()]),
  fraction: Type.Number(),
});

const BatchReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  modelName: Type.String(),
  modelVersion: Type.Integer(),
  modelVersionName: Type.String(),
  versionId: Type.String(),
  modelSha256: Type.String(),
  task: Type.String(),
  classes: Type.Array(Type.String()),
  source: Type.Object({
    kind: Type.String(),
    datasetId: Type.Optional(Type.String()),
    datasetName: Type.Optional(Type.String()),
    inputDigest: Type.Optional(Type.String()),
  }),
  total: Type.Integer(),
  chunkSize: Type.Integer(),
  chunkCount: Type.Integer(),
  workers: Type.Integer(),
  state: Type.String(),
  stateReason: Type.String(),
  jobId: Type.Union([Type.String(), Type.Null()]),
  jobsSubmitted: Type.Integer(),
  progress: Progress,
  createdAt: Type.Number(),
  createdBy: Type.String(),
  startedAt: Type.Union([Type.Number(), Type.Null()]),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  updatedAt: Type.Number(),
});

const CreateBody = Type.Object({
  project: Type.Optional(Type.String({ maxLength: 200 })),
  model: Type.String({ minLength: 1, maxLength: 200 }),
  version: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ maxLength: 20 })])),
  dataset: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  inputDigest: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
  files: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }))),
  chunkSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 256 })),
  workers: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
});

const ResultReply = Type.Object({
  position: Type.Integer(),
  chunkIndex: Type.Integer(),
  key: Type.String(),
  itemId: Type.Union([Type.String(), Type.Null()]),
  prediction: Type.Unknown(),
  createdAt: Type.Number(),
});

export const batchRoutes: RouteModule = (app, platform) => {
  const { service, worker, results } = platform.batch;
  const exportOptions = (query: { imageRoot?: string; fromName?: string; toName?: string }) => ({
    publicUrl: platform.publicUrl ?? publicUrlOf(platform.config),
    signedImagePath: (datasetId: string, itemId: string) => platform.imageUrls.path(datasetId, itemId),
    ...query,
  });
  /**
   * Where the predictions go in the Label Studio project: the stored `/setup` of the named deployment, else
   * of a deployment of the batch's model in its project that has one; explicit fromName/toName win.
   */
  const labelStudioSetup = async (principal: Principal, batchId: string, deployment?: string) => {
    const batch = await results.find(principal, batchId);
    const candidates = (await platform.serving.deployments.list(principal)).filter(
      (d) => d.projectId === batch.projectId && d.labelStudio !== null,
    );
    const chosen = deployment
      ? candidates.find((d) => d.name === deployment)
      : candidates.find((d) => d.modelId === batch.modelId);
    if (deployment && !chosen) {
      throw new NotFoundError(`deployment ${deployment} has no Label Studio setup in the batch's project`);
    }
    return chosen?.labelStudio ?? undefined;
  };

  app.post(
    BASE,
    {
      bodyLimit: CREATE_BODY_LIMIT,
      schema: {
        tags,
        summary: "Start a batch prediction (pseudo-labeling) over a dataset or an uploaded image archive",
        description:
          "Submits a scheduler job that runs `mlops batch worker`. Dataset: every item gets a pre-annotation. " +
          "Archive: upload a tar.gz of the images with POST /api/v1/jobs/code and list them in `files`.",
        body: CreateBody,
        response: { 201: BatchReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await service.create(principalOf(request), request.body)),
  );

  app.get(
    BASE,
    {
      schema: {
        tags,
        summary: "Batch predictions in the caller's projects, newest first",
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: { 200: Type.Object({ batches: Type.Array(BatchReply) }) },
      },
    },
    async (request) => ({
      batches: await service.list(principalOf(request), request.query.project, request.query.limit),
    }),
  );

  app.get(
    `${BASE}/:id`,
    {
      schema: {
        tags,
        summary: "A batch prediction with its progress",
        params: IdParams,
        response: { 200: BatchReply },
      },
    },
    async (request) => service.get(principalOf(request), request.params.id),
  );

  app.post(
    `${BASE}/:id/cancel`,
    {
      schema: {
        tags,
        summary: "Stop a batch prediction (stored chunks stay)",
        params: IdParams,
        response: { 200: BatchReply },
      },
    },
    async (request) => service.cancel(principalOf(request), request.params.id),
  );

  app.post(
    `${BASE}/:id/resume`,
    {
      schema: {
        tags,
        summary: "Resume a failed or cancelled batch prediction from its chunk checkpoints (a new job)",
        params: IdParams,
        body: Type.Optional(
          Type.Object({ maxRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })) }),
        ),
        response: { 200: BatchReply },
      },
    },
    async (request) => service.resume(principalOf(request), request.params.id, request.body?.maxRetries),
  );

  app.get(
    `${BASE}/:id/results`,
    {
      schema: {
        tags,
        summary: "Stored predictions by position (page with `after`)",
        params: IdParams,
        querystring: Type.Object({
          after: Type.Optional(Type.Integer({ minimum: -1 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
        response: {
          200: Type.Object({ results: Type.Array(ResultReply), nextAfter: Type.Optional(Type.Integer()) }),
        },
      },
    },
    async (request) =>
      results.page(principalOf(request), request.params.id, request.query.after, request.query.limit),
  );

  app.get(
    `${BASE}/:id/export`,
    {
      schema: {
        tags,
        summary:
          "Label Studio tasks with `predictions` (format=label-studio), or COCO-style JSON (format=coco)",
        params: IdParams,
        querystring: Type.Object({
          format: Type.Optional(Type.String()),
          imageRoot: Type.Optional(Type.String({ maxLength: 1000 })),
          fromName: Type.Optional(Type.String({ maxLength: 200 })),
          toName: Type.Optional(Type.String({ maxLength: 200 })),
          deployment: Type.Optional(Type.String({ maxLength: 200 })),
        }),
      },
    },
    async (request, reply) => {
      const { format, deployment, ...rest } = request.query;
      const principal = principalOf(request);
      const setup =
        parseExportFormat(format) === "label-studio"
          ? await labelStudioSetup(principal, request.params.id, deployment)
          : undefined;
      const options = {
        ...exportOptions(rest),
        ...(setup ? { dataKey: setup.dataKey } : {}),
        fromName: rest.fromName ?? setup?.fromName,
        toName: rest.toName ?? setup?.toName,
      };
      reply.header("content-type", "application/json; charset=utf-8");
      if (parseExportFormat(format) === "coco") {
        return reply.send(JSON.stringify(await results.coco(principal, request.params.id, options)));
      }
      const tasks = await results.labelStudioTasks(principal, request.params.id, options);
      return reply.send(Readable.from(jsonArray(tasks)));
    },
  );

  // The worker's endpoints: called by `mlops batch worker` with its job's workload token.
  app.post(
    `${BASE}/:id/worker`,
    {
      schema: {
        tags,
        summary: "Worker: start an attempt; answers the model and the chunks still to do",
        params: IdParams,
        body: Type.Object({ attempt: Type.Integer({ minimum: 0 }) }),
      },
    },
    async (request) => worker.start(principalOf(request), request.params.id, request.body.attempt),
  );

  app.get(
    `${BASE}/:id/model`,
    { schema: { tags, summary: "Worker: the version's model.onnx", params: IdParams } },
    async (request, reply) => {
      const file = await worker.modelFile(principalOf(request), request.params.id);
      reply.header("content-type", "application/octet-stream").header("content-length", file.size);
      return reply.send(file.stream);
    },
  );

  app.get(
    `${BASE}/:id/chunks/:index`,
    {
      schema: {
        tags,
        summary: "Worker: a chunk's inputs (dataset images inline, base64)",
        params: ChunkParams,
      },
    },
    async (request) => worker.chunkInputs(principalOf(request), request.params.id, request.params.index),
  );

  app.put(
    `${BASE}/:id/chunks/:index`,
    {
      schema: {
        tags,
        summary: "Worker: store a chunk's predictions with its checkpoint (once; a repeat is a no-op)",
        params: ChunkParams,
        body: Type.Object({
          predictions: Type.Array(
            Type.Object({ position: Type.Integer({ minimum: 0 }), prediction: Type.Unknown() }),
            {
              maxItems: 256,
            },
          ),
          durationMs: Type.Number({ minimum: 0 }),
          attempt: Type.Integer({ minimum: 0 }),
        }),
        response: { 200: Type.Object({ stored: Type.Boolean(), batch: BatchReply }) },
      },
    },
    async (request) =>
      worker.completeChunk(principalOf(request), request.params.id, request.params.index, request.body),
  );
};

/** `[a,b,...]` from an async sequence, without holding it all in memory. */
async function* jsonArray(items: AsyncIterable<unknown>): AsyncGenerator<string> {
  let first = true;
  yield "[";
  for await (const item of items) {
    yield (first ? "\n" : ",\n") + JSON.stringify(item);
    first = false;
  }
  yield "\n]\n";
}
