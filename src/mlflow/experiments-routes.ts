import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { InputError } from "../errors.js";
import { principalOf } from "../http/auth-hook.js";
import type { App } from "../http/types.js";
import type { Platform } from "../platform.js";
import { PROJECT_TAG, type ViewType } from "../tracking/model.js";
import { SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_LIMIT } from "../tracking/run-queries.js";
import { filterExperiments, sortExperiments } from "./experiment-search.js";
import {
  argsOf,
  mlflowRoutePaths,
  objectList,
  optionalInteger,
  optionalString,
  projectOf,
  requiredString,
  stringList,
} from "./mlflow-args.js";
import { experimentJson } from "./mlflow-shapes.js";
import { paginate } from "./page-token.js";

const AnyArgs = Type.Object({}, { additionalProperties: true });
const schema = { tags: ["mlflow"], querystring: AnyArgs };
const writeSchema = { tags: ["mlflow"], body: AnyArgs };

export function viewTypeOf(value: string | undefined): ViewType {
  if (value === undefined || value === "" || value === "ACTIVE_ONLY" || value === "1") return "ACTIVE_ONLY";
  if (value === "DELETED_ONLY" || value === "2") return "DELETED_ONLY";
  if (value === "ALL" || value === "3") return "ALL";
  throw new InputError(`Invalid view type '${value}': use ACTIVE_ONLY, DELETED_ONLY or ALL`);
}

/** MLflow `experiments/*` over the tracking service. */
export function registerMlflowExperimentRoutes(app: App, { tracking }: Platform): void {
  for (const url of mlflowRoutePaths("experiments/create")) {
    app.post(url, { schema: writeSchema }, async (request) => {
      const args = argsOf(request);
      const principal = principalOf(request);
      const tags = (objectList<{ key?: unknown; value?: unknown }>(args, "tags") ?? []).map((t) => ({
        key: String(t.key ?? ""),
        value: typeof t.value === "string" ? t.value : String(t.value ?? ""),
      }));
      // The experiment tag `mlops.project` places it in a project (else the header, else `default`).
      const project = tags.find((t) => t.key === PROJECT_TAG)?.value || projectOf(request, principal);
      const experiment = await tracking.createExperiment(principal, {
        project,
        name: requiredString(args, "name"),
        tags,
      });
      return { experiment_id: experiment.id };
    });
  }

  for (const url of mlflowRoutePaths("experiments/get")) {
    app.get(url, { schema }, async (request) => {
      const experiment = await tracking.getExperiment(
        principalOf(request),
        requiredString(argsOf(request), "experiment_id"),
      );
      return { experiment: experimentJson(experiment) };
    });
  }

  for (const url of mlflowRoutePaths("experiments/get-by-name")) {
    app.get(url, { schema }, async (request) => {
      const principal = principalOf(request);
      const name = requiredString(argsOf(request), "experiment_name");
      return {
        experiment: experimentJson(
          await tracking.getExperimentByName(principal, projectOf(request, principal), name),
        ),
      };
    });
  }

  for (const url of mlflowRoutePaths("experiments/search")) {
    const handler = async (request: FastifyRequest) => {
      const args = argsOf(request);
      const principal = principalOf(request);
      const maxResults = optionalInteger(args, "max_results") ?? SEARCH_MAX_RESULTS_DEFAULT;
      if (maxResults < 1 || maxResults > SEARCH_MAX_RESULTS_LIMIT) {
        throw new InputError(`Invalid value ${maxResults} for parameter 'max_results' supplied.`);
      }
      const view = viewTypeOf(optionalString(args, "view_type"));
      const lifecycle = view === "ALL" ? "all" : view === "DELETED_ONLY" ? "deleted" : "active";
      const filter = optionalString(args, "filter");
      const orderBy = stringList(args, "order_by");
      const all = await tracking.listExperiments(principal, projectOf(request, principal), lifecycle);
      const sorted = sortExperiments(filterExperiments(all, filter), orderBy);
      const context = JSON.stringify(["experiments", filter ?? "", orderBy ?? [], view]);
      const page = paginate(sorted, optionalString(args, "page_token"), maxResults, { context });
      const reply: Record<string, unknown> = {};
      if (page.items.length > 0) reply.experiments = page.items.map(experimentJson);
      if (page.nextPageToken) reply.next_page_token = page.nextPageToken;
      return reply;
    };
    app.post(url, { schema: writeSchema }, handler);
    app.get(url, { schema }, handler);
  }

  for (const url of mlflowRoutePaths("experiments/update")) {
    app.post(url, { schema: writeSchema }, async (request) => {
      const args = argsOf(request);
      await tracking.renameExperiment(
        principalOf(request),
        requiredString(args, "experiment_id"),
        requiredString(args, "new_name"),
      );
      return {};
    });
  }

  for (const [path, stage] of [
    ["experiments/delete", "deleted"],
    ["experiments/restore", "active"],
  ] as const) {
    for (const url of mlflowRoutePaths(path)) {
      app.post(url, { schema: writeSchema }, async (request) => {
        await tracking.setExperimentLifecycle(
          principalOf(request),
          requiredString(argsOf(request), "experiment_id"),
          stage,
        );
        return {};
      });
    }
  }

  for (const url of mlflowRoutePaths("experiments/delete-experiment-tag")) {
    app.post(url, { schema: writeSchema }, async (request) => {
      const args = argsOf(request);
      await tracking.deleteExperimentTag(
        principalOf(request),
        requiredString(args, "experiment_id"),
        requiredString(args, "key"),
      );
      return {};
    });
  }

  for (const url of mlflowRoutePaths("experiments/set-experiment-tag")) {
    app.post(url, { schema: writeSchema }, async (request) => {
      const args = argsOf(request);
      await tracking.setExperimentTag(principalOf(request), requiredString(args, "experiment_id"), {
        key: args.key,
        value: args.value,
      });
      return {};
    });
  }
}
