import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/principal.js";
import { InputError } from "../errors.js";
import { principalOf } from "../http/auth-hook.js";
import type { App, RouteModule } from "../http/types.js";
import type { ModelVersion } from "../registry/registry-store.js";
import type { RegistryService } from "../registry/registry-service.js";
import { parseStage } from "../registry/stages.js";
import type { Platform } from "../platform.js";
import { loggedModelVersionInput } from "./logged-model-source.js";
import { projectOf } from "./mlflow-args.js";
import { paginate } from "./page-token.js";
import { latestPerStage, modelVersionJson, registeredModelJson } from "./registry-json.js";
import { matchesRegistryFilter, parseRegistryFilter, registryComparator } from "./registry-search.js";

/**
 * MLflow's model registry REST API (`/api/2.0/mlflow/registered-models/*`, `model-versions/*`) over the
 * registry. MLflow has no projects: requests act in the project of `projectOf` (the `X-Mlops-Project`
 * header, else a workload token's project, else `default`), as tracking's MLflow routes do. Arguments come from the query (GET) or the JSON body (POST/PATCH/DELETE).
 */
type Args = Record<string, unknown>;
const PREFIXES = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];
const ArgsSchema = Type.Object({}, { additionalProperties: true });

function argsOf(request: FastifyRequest): Args {
  const body = request.body && typeof request.body === "object" ? (request.body as Args) : {};
  return { ...(request.query as Args), ...body };
}

function required(args: Args, key: string): string {
  const value = args[key];
  if (value === undefined || value === null || value === "") {
    throw new InputError(`Missing value for required parameter '${key}'.`);
  }
  if (typeof value !== "string" && typeof value !== "number") {
    throw new InputError(`Invalid value for parameter '${key}': expected a string`);
  }
  return String(value);
}

function optionalString(args: Args, key: string): string | undefined {
  const value = args[key];
  return value === undefined || value === null ? undefined : String(value);
}

function stringList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return (Array.isArray(value) ? value : [value]).map(String);
}

function tagsOf(value: unknown): Record<string, string> {
  if (!Array.isArray(value)) return {};
  const tags: Record<string, string> = {};
  for (const t of value as Array<{ key?: unknown; value?: unknown }>) {
    if (typeof t?.key !== "string") throw new InputError("Invalid tags: each needs a string 'key'");
    tags[t.key] = t.value === undefined || t.value === null ? "" : String(t.value);
  }
  return tags;
}

function maxResultsOf(args: Args, fallback: number, limit: number): number {
  const raw = args.max_results;
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > limit) {
    throw new InputError(`Invalid value for max_results: expected 1..${limit}, got ${String(raw)}`);
  }
  return n;
}

export const mlflowRegistryRoutes: RouteModule = (app, platform) => {
  for (const prefix of PREFIXES) registerAt(app, platform, prefix);
};

function registerAt(app: App, platform: Platform, prefix: string): void {
  const registry: RegistryService = platform.registry;
  const route = (
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    handler: (args: Args, principal: Principal, project: string) => Promise<unknown>,
  ) =>
    app.route({
      method,
      url: `${prefix}/${path}`,
      schema: {
        tags: ["mlflow"],
        hide: prefix !== PREFIXES[0],
        summary: `MLflow ${path}`,
        ...(method === "GET"
          ? { querystring: ArgsSchema }
          : { body: Type.Optional(ArgsSchema), querystring: ArgsSchema }),
      },
      handler: async (request) => {
        const principal = principalOf(request);
        return handler(argsOf(request), principal, projectOf(request, principal));
      },
    });

  const modelJson = async (p: Principal, project: string, name: string) => {
    const model = await registry.getModel(p, project, name);
    return registeredModelJson(model, await registry.listVersions(p, project, model.name));
  };

  route("POST", "registered-models/create", async (args, p, project) => {
    const model = await registry.createModel(p, project, {
      name: required(args, "name"),
      description: optionalString(args, "description"),
      tags: tagsOf(args.tags),
    });
    return { registered_model: registeredModelJson(model, []) };
  });

  route("GET", "registered-models/get", async (args, p, project) => ({
    registered_model: await modelJson(p, project, required(args, "name")),
  }));

  route("POST", "registered-models/rename", async (args, p, project) => {
    const model = await registry.updateModel(p, project, required(args, "name"), {
      newName: required(args, "new_name"),
    });
    return { registered_model: await modelJson(p, project, model.name) };
  });

  route("PATCH", "registered-models/update", async (args, p, project) => {
    const model = await registry.updateModel(p, project, required(args, "name"), {
      description: optionalString(args, "description") ?? "",
    });
    return { registered_model: await modelJson(p, project, model.name) };
  });

  route("DELETE", "registered-models/delete", async (args, p, project) => {
    await registry.deleteModel(p, project, required(args, "name"));
    return {};
  });

  route("GET", "registered-models/search", async (args, p, project) => {
    const clauses = parseRegistryFilter(optionalString(args, "filter"), ["name"]);
    const maxResults = maxResultsOf(args, 100, 1000);
    const orderBy = stringList(args.order_by);
    const models = (await registry.listModels(p, project)).filter((m) =>
      matchesRegistryFilter((key) => (key === "name" ? m.name : m.tags[key.slice(5)]), clauses),
    );
    models.sort(
      registryComparator(orderBy, { name: (m) => m.name, last_updated_timestamp: (m) => m.updatedAt }, [
        ["name", "ASC"],
      ]),
    );
    const context = JSON.stringify([project, args.filter ?? "", orderBy ?? []]);
    const page = paginate(models, optionalString(args, "page_token"), maxResults, { context });
    const registered_models = [];
    for (const m of page.items)
      registered_models.push(registeredModelJson(m, await registry.listVersions(p, project, m.name)));
    return page.nextPageToken
      ? { registered_models, next_page_token: page.nextPageToken }
      : { registered_models };
  });

  route("POST", "registered-models/set-tag", async (args, p, project) => {
    await registry.setModelTag(
      p,
      project,
      required(args, "name"),
      required(args, "key"),
      optionalString(args, "value") ?? "",
    );
    return {};
  });

  route("DELETE", "registered-models/delete-tag", async (args, p, project) => {
    await registry.deleteModelTag(p, project, required(args, "name"), required(args, "key"));
    return {};
  });

  const latest = async (args: Args, p: Principal, project: string) => {
    const stages = stringList(args.stages)?.map(parseStage);
    const versions = await registry.listVersions(p, project, required(args, "name"));
    return { model_versions: latestPerStage(versions, stages).map(modelVersionJson) };
  };
  route("POST", "registered-models/get-latest-versions", latest);
  route("GET", "registered-models/get-latest-versions", latest);

  route("POST", "registered-models/alias", async (args, p, project) => {
    await registry.setAlias(
      p,
      project,
      required(args, "name"),
      required(args, "alias"),
      required(args, "version"),
    );
    return {};
  });

  route("DELETE", "registered-models/alias", async (args, p, project) => {
    await registry.deleteAlias(p, project, required(args, "name"), required(args, "alias"));
    return {};
  });

  route("GET", "registered-models/alias", async (args, p, project) => ({
    model_version: modelVersionJson(
      await registry.getByAlias(p, project, required(args, "name"), required(args, "alias")),
    ),
  }));

  route("POST", "model-versions/create", async (args, p, project) => {
    const source = required(args, "source");
    // MLflow 3: `model_id` / `models:/m-<id>` / a run's logged model name the files (logged-model-source.ts).
    const fromLoggedModel = await loggedModelVersionInput(
      platform,
      p,
      source,
      optionalString(args, "model_id"),
    );
    const created = await registry.createVersion(
      p,
      project,
      required(args, "name"),
      fromLoggedModel ?? { kind: "source", source, runId: optionalString(args, "run_id") || undefined },
      { description: optionalString(args, "description"), tags: tagsOf(args.tags), requireModelFiles: false },
    );
    return { model_version: modelVersionJson(created) };
  });

  const getVersion = async (args: Args, p: Principal, project: string) =>
    (await registry.getVersion(p, project, required(args, "name"), required(args, "version"))).version;

  route("GET", "model-versions/get", async (args, p, project) => ({
    model_version: modelVersionJson(await getVersion(args, p, project)),
  }));

  route("PATCH", "model-versions/update", async (args, p, project) => ({
    model_version: modelVersionJson(
      await registry.updateVersion(
        p,
        project,
        required(args, "name"),
        required(args, "version"),
        optionalString(args, "description") ?? "",
      ),
    ),
  }));

  route("DELETE", "model-versions/delete", async (args, p, project) => {
    await registry.deleteVersion(p, project, required(args, "name"), required(args, "version"));
    return {};
  });

  route("POST", "model-versions/transition-stage", async (args, p, project) => {
    const archive = args.archive_existing_versions;
    const result = await registry.transition(
      p,
      project,
      required(args, "name"),
      required(args, "version"),
      parseStage(required(args, "stage")),
      {
        reason: optionalString(args, "comment") || "MLflow transition-stage",
        archiveExisting: archive === true || archive === "true",
      },
    );
    return { model_version: modelVersionJson(result.version) };
  });

  route("GET", "model-versions/search", async (args, p, project) => {
    const clauses = parseRegistryFilter(optionalString(args, "filter"), [
      "name",
      "run_id",
      "source_path",
      "version_number",
    ]);
    const maxResults = maxResultsOf(args, 10_000, 200_000);
    const orderBy = stringList(args.order_by);
    const nameClause = clauses.find((c) => c.key === "name" && c.comparator === "=");
    const runClause = clauses.find((c) => c.key === "run_id" && c.comparator === "=");
    const candidates = await registry.searchVersions(p, project, {
      modelName: nameClause?.value as string | undefined,
      runId: runClause?.value as string | undefined,
    });
    const field = (v: ModelVersion, key: string): string | undefined => {
      if (key === "name") return v.modelName;
      if (key === "run_id") return v.runId ?? "";
      if (key === "source_path") return v.source;
      if (key === "version_number") return String(v.version);
      return v.tags[key.slice(5)];
    };
    const versions = candidates.filter((v) => matchesRegistryFilter((key) => field(v, key), clauses));
    versions.sort(
      registryComparator(
        orderBy,
        {
          name: (v) => v.modelName,
          version_number: (v) => v.version,
          creation_timestamp: (v) => v.createdAt,
          last_updated_timestamp: (v) => v.updatedAt,
        },
        [
          ["last_updated_timestamp", "DESC"],
          ["name", "ASC"],
          ["version_number", "DESC"],
        ],
      ),
    );
    const context = JSON.stringify([project, args.filter ?? "", orderBy ?? []]);
    const page = paginate(versions, optionalString(args, "page_token"), maxResults, { context });
    const model_versions = page.items.map(modelVersionJson);
    return page.nextPageToken ? { model_versions, next_page_token: page.nextPageToken } : { model_versions };
  });

  route("GET", "model-versions/get-download-uri", async (args, p, project) => ({
    artifact_uri: await registry.downloadUri(p, project, required(args, "name"), required(args, "version")),
  }));

  route("POST", "model-versions/set-tag", async (args, p, project) => {
    await registry.setVersionTag(
      p,
      project,
      required(args, "name"),
      required(args, "version"),
      required(args, "key"),
      optionalString(args, "value") ?? "",
    );
    return {};
  });

  route("DELETE", "model-versions/delete-tag", async (args, p, project) => {
    await registry.deleteVersionTag(
      p,
      project,
      required(args, "name"),
      required(args, "version"),
      required(args, "key"),
    );
    return {};
  });
}
