import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { principalOf } from "../http/auth-hook.js";
import type { App } from "../http/types.js";
import type { Platform } from "../platform.js";
import type { RawKeyValue } from "../tracking/limits.js";
import { SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_LIMIT } from "../tracking/run-queries.js";
import { filterLoggedModels, sortLoggedModels } from "./logged-model-search.js";
import {
  type Args,
  argsOf,
  MLFLOW_PREFIXES,
  objectList,
  optionalInteger,
  optionalString,
  requiredString,
  stringList,
} from "./mlflow-args.js";
import { fileInfoJson, loggedModelJson } from "./mlflow-shapes.js";
import { paginate } from "./page-token.js";
import { InputError } from "../errors.js";

const AnyArgs = Type.Object({}, { additionalProperties: true });
const ModelParams = Type.Object({ model_id: Type.String() }, { additionalProperties: true });

type Handler = (request: FastifyRequest, args: Args, reply: FastifyReply) => Promise<unknown>;

/**
 * MLflow 3 logged models (`/api/2.0/mlflow/logged-models/*`, docs/mlflow.md): what `log_model`,
 * `search_logged_models`, `get_logged_model` and `finalize_logged_model` call. Their files go through the
 * artifact proxy under `<experiment>/models/<model_id>/artifacts/` (artifacts-routes.ts) and are listed
 * and read here too.
 */
export function registerMlflowLoggedModelRoutes(app: App, { loggedModels }: Platform): void {
  const route = (method: "GET" | "POST" | "PATCH" | "DELETE", path: string, handler: Handler) => {
    for (const prefix of MLFLOW_PREFIXES) {
      app.route({
        method,
        url: `${prefix}/${path}`,
        schema: {
          tags: ["mlflow"],
          hide: prefix !== MLFLOW_PREFIXES[0],
          summary: `MLflow ${method} ${path}`,
          querystring: AnyArgs,
          // DELETE carries the ids in the path; MLflow sends a JSON body too, others send none.
          ...(method === "POST" || method === "PATCH" ? { body: AnyArgs } : {}),
          ...(path.includes(":model_id") ? { params: ModelParams } : {}),
        },
        handler: (request, reply) => {
          const params = (request.params ?? {}) as Record<string, string>;
          return handler(request, { ...argsOf(request), ...params }, reply);
        },
      });
    }
  };

  route("POST", "logged-models", async (request, args) => ({
    model: loggedModelJson(
      await loggedModels.create(principalOf(request), {
        experimentId: requiredString(args, "experiment_id"),
        name: optionalString(args, "name"),
        modelType: optionalString(args, "model_type"),
        sourceRunId: optionalString(args, "source_run_id") || undefined,
        params: objectList<RawKeyValue>(args, "params"),
        tags: objectList<RawKeyValue>(args, "tags"),
      }),
    ),
  }));

  route("POST", "logged-models/search", async (request, args) => {
    const maxResults = optionalInteger(args, "max_results") ?? SEARCH_MAX_RESULTS_DEFAULT;
    if (maxResults < 1 || maxResults > SEARCH_MAX_RESULTS_LIMIT) {
      throw new InputError(`Invalid value ${maxResults} for parameter 'max_results' supplied.`);
    }
    const experimentIds = stringList(args, "experiment_ids") ?? [];
    const filter = optionalString(args, "filter");
    const models = sortLoggedModels(
      filterLoggedModels(await loggedModels.search(principalOf(request), experimentIds), filter),
      args.order_by,
    );
    const context = JSON.stringify(["logged-models", experimentIds, filter ?? "", args.order_by ?? null]);
    const page = paginate(models, optionalString(args, "page_token"), maxResults, { context });
    const reply: Record<string, unknown> = { models: page.items.map(loggedModelJson) };
    if (page.nextPageToken) reply.next_page_token = page.nextPageToken;
    return reply;
  });

  route("GET", "logged-models/:model_id", async (request, args) => ({
    model: loggedModelJson(await loggedModels.get(principalOf(request), requiredString(args, "model_id"))),
  }));

  route("PATCH", "logged-models/:model_id", async (request, args) => ({
    model: loggedModelJson(
      await loggedModels.finalize(
        principalOf(request),
        requiredString(args, "model_id"),
        requiredString(args, "status"),
      ),
    ),
  }));

  route("DELETE", "logged-models/:model_id", async (request, args) => {
    await loggedModels.delete(principalOf(request), requiredString(args, "model_id"));
    return {};
  });

  route("PATCH", "logged-models/:model_id/tags", async (request, args) => {
    await loggedModels.setTags(
      principalOf(request),
      requiredString(args, "model_id"),
      objectList<RawKeyValue>(args, "tags"),
    );
    return {};
  });

  route("DELETE", "logged-models/:model_id/tags/:tag_key", async (request, args) => {
    await loggedModels.deleteTag(
      principalOf(request),
      requiredString(args, "model_id"),
      requiredString(args, "tag_key"),
    );
    return {};
  });

  route("POST", "logged-models/:model_id/params", async (request, args) => {
    await loggedModels.logParams(
      principalOf(request),
      requiredString(args, "model_id"),
      objectList<RawKeyValue>(args, "params"),
    );
    return {};
  });

  route("GET", "logged-models/:model_id/artifacts/directories", async (request, args) => {
    const id = requiredString(args, "model_id");
    const principal = principalOf(request);
    const model = await loggedModels.get(principal, id);
    const entries = await loggedModels.list(principal, id, optionalString(args, "artifact_directory_path"));
    const reply: Record<string, unknown> = { root_uri: model.artifactLocation };
    if (entries.length > 0) reply.files = entries.map((e) => fileInfoJson(e));
    return reply;
  });

  for (const prefix of MLFLOW_PREFIXES) {
    app.get(
      `${prefix}/logged-models/:model_id/artifacts/files`,
      {
        schema: {
          tags: ["mlflow"],
          hide: prefix !== MLFLOW_PREFIXES[0],
          params: Type.Object({ model_id: Type.String() }),
          querystring: Type.Object({ artifact_file_path: Type.Optional(Type.String()) }),
        },
      },
      async (request, reply) => {
        const { artifact, stream } = await loggedModels.open(
          principalOf(request),
          request.params.model_id,
          requiredString(request.query, "artifact_file_path"),
        );
        return reply
          .type("application/octet-stream")
          .header("content-length", artifact.size)
          .header("x-content-sha256", artifact.sha256)
          .send(stream);
      },
    );
  }
}
