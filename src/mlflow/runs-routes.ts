import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { InputError } from "../errors.js";
import { principalOf } from "../http/auth-hook.js";
import type { App } from "../http/types.js";
import type { Platform } from "../platform.js";
import type { RawKeyValue, RawMetric } from "../tracking/limits.js";
import { viewTypeOf } from "./experiments-routes.js";
import {
  type Args,
  argsOf,
  mlflowRoutePaths,
  objectList,
  optionalInteger,
  optionalString,
  requiredString,
  stringList,
} from "./mlflow-args.js";
import { metricJson, runInfoJson, runJson } from "./mlflow-shapes.js";

const AnyArgs = Type.Object({}, { additionalProperties: true });
const readSchema = { tags: ["mlflow"], querystring: AnyArgs };
const writeSchema = { tags: ["mlflow"], body: AnyArgs };

/** MLflow sends both `run_id` and its old name `run_uuid`. */
function runIdOf(args: Args): string {
  return optionalString(args, "run_id") || requiredString(args, "run_uuid");
}

/** MLflow `runs/*` and `metrics/*` over the tracking service. */
export function registerMlflowRunRoutes(app: App, { tracking, runQueries, loggedModels }: Platform): void {
  const post = (path: string, handler: (request: FastifyRequest, args: Args) => Promise<unknown>) => {
    for (const url of mlflowRoutePaths(path)) {
      app.post(url, { schema: writeSchema }, (request) => handler(request, argsOf(request)));
    }
  };
  const get = (path: string, handler: (request: FastifyRequest, args: Args) => Promise<unknown>) => {
    for (const url of mlflowRoutePaths(path)) {
      app.get(url, { schema: readSchema }, (request) => handler(request, argsOf(request)));
    }
  };

  post("runs/create", async (request, args) => {
    const run = await tracking.createRun(principalOf(request), {
      experimentId: optionalString(args, "experiment_id") ?? "0",
      runName: optionalString(args, "run_name"),
      startTime: optionalInteger(args, "start_time"),
      tags: objectList<RawKeyValue>(args, "tags"),
    });
    return { run: runJson(run) };
  });

  get("runs/get", async (request, args) => {
    const principal = principalOf(request);
    const run = await tracking.getRun(principal, runIdOf(args));
    return { run: runJson(run, await loggedModels.outputsOf(principal, run.info.runId)) };
  });

  post("runs/update", async (request, args) => {
    const endTime = optionalInteger(args, "end_time");
    const info = await tracking.updateRun(principalOf(request), runIdOf(args), {
      status: optionalString(args, "status"),
      endTime,
      runName: optionalString(args, "run_name"),
    });
    return { run_info: runInfoJson(info) };
  });

  post("runs/delete", async (request, args) => {
    await tracking.setRunLifecycle(principalOf(request), runIdOf(args), "deleted");
    return {};
  });
  post("runs/restore", async (request, args) => {
    await tracking.setRunLifecycle(principalOf(request), runIdOf(args), "active");
    return {};
  });

  post("runs/search", async (request, args) => {
    const result = await runQueries.searchRuns(principalOf(request), {
      experimentIds: stringList(args, "experiment_ids") ?? [],
      filter: optionalString(args, "filter"),
      viewType: viewTypeOf(optionalString(args, "run_view_type")),
      maxResults: optionalInteger(args, "max_results"),
      orderBy: stringList(args, "order_by"),
      pageToken: optionalString(args, "page_token"),
    });
    const reply: Record<string, unknown> = {};
    if (result.runs.length > 0) reply.runs = result.runs.map((r) => runJson(r));
    if (result.nextPageToken) reply.next_page_token = result.nextPageToken;
    return reply;
  });

  post("runs/log-batch", async (request, args) => {
    await tracking.logBatch(principalOf(request), runIdOf(args), {
      metrics: objectList<RawMetric>(args, "metrics"),
      params: objectList<RawKeyValue>(args, "params"),
      tags: objectList<RawKeyValue>(args, "tags"),
    });
    return {};
  });

  post("runs/log-metric", async (request, args) => {
    await tracking.logBatch(principalOf(request), runIdOf(args), {
      metrics: [{ key: args.key, value: args.value, timestamp: args.timestamp, step: args.step }],
    });
    return {};
  });

  post("runs/log-parameter", async (request, args) => {
    await tracking.logBatch(principalOf(request), runIdOf(args), {
      params: [{ key: args.key, value: args.value }],
    });
    return {};
  });

  post("runs/set-tag", async (request, args) => {
    await tracking.logBatch(principalOf(request), runIdOf(args), {
      tags: [{ key: args.key, value: args.value }],
    });
    return {};
  });

  post("runs/delete-tag", async (request, args) => {
    await tracking.deleteTag(principalOf(request), runIdOf(args), requiredString(args, "key"));
    return {};
  });

  // Datasets/inputs are not tracked yet; accepting the call keeps `mlflow.log_input` from failing runs.
  post("runs/log-inputs", async (request, args) => {
    await tracking.getRun(principalOf(request), runIdOf(args));
    return {};
  });

  // MLflow 3: links the run to the logged models it produced (`mlflow.<flavor>.log_model` sends it).
  post("runs/outputs", async (request, args) => {
    const models = objectList<{ model_id?: unknown; step?: unknown }>(args, "models") ?? [];
    await loggedModels.logOutputs(
      principalOf(request),
      runIdOf(args),
      models.map((m) => ({
        modelId: String(m.model_id ?? ""),
        step: m.step === undefined ? 0 : Number(m.step),
      })),
    );
    return {};
  });

  get("metrics/get-history", async (request, args) => {
    const result = await runQueries.metricHistory(
      principalOf(request),
      runIdOf(args),
      requiredString(args, "metric_key"),
      {
        maxResults: optionalInteger(args, "max_results"),
        pageToken: optionalString(args, "page_token"),
      },
    );
    const reply: Record<string, unknown> = {};
    if (result.metrics.length > 0) reply.metrics = result.metrics.map(metricJson);
    if (result.nextPageToken) reply.next_page_token = result.nextPageToken;
    return reply;
  });

  get("metrics/get-history-bulk-interval", async (request, args) => {
    const runIds = stringList(args, "run_ids");
    if (!runIds) throw new InputError("Missing value for required parameter 'run_ids'.");
    const points = await runQueries.metricHistoryBulk(
      principalOf(request),
      runIds,
      requiredString(args, "metric_key"),
      {
        startStep: optionalInteger(args, "start_step"),
        endStep: optionalInteger(args, "end_step"),
        maxResults: optionalInteger(args, "max_results"),
      },
    );
    return points.length > 0 ? { metrics: points.map((p) => ({ ...metricJson(p), run_id: p.runId })) } : {};
  });
}
