import { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { normalizeArtifactDir, normalizeArtifactPath } from "../artifacts/artifact-path.js";
import { InputError, NotFoundError } from "../errors.js";
import { LOGGED_MODEL_ID } from "../tracking/logged-models-model.js";
import { principalOf } from "../http/auth-hook.js";
import type { App } from "../http/types.js";
import type { Platform } from "../platform.js";
import { argsOf, mlflowRoutePaths, optionalString, requiredString } from "./mlflow-args.js";
import { fileInfoJson } from "./mlflow-shapes.js";

export const ARTIFACT_PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts";

/** Whose file a proxy path names: a run's, or (MLflow 3) a logged model's. */
export type ProxyTarget =
  | { kind: "run"; experimentId: string; runId: string; path: string }
  | { kind: "model"; experimentId: string; modelId: string; path: string };

/**
 * A proxy path names one file the way MLflow builds it from an artifact URI: a run's
 * (`mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`) as `<experiment_id>/<run_id>/artifacts/<path>`,
 * or a logged model's (`mlflow-artifacts:/<experiment_id>/models/<model_id>/artifacts`) as
 * `<experiment_id>/models/<model_id>/artifacts/<path>`.
 */
export function parseProxyPath(raw: string, allowRoot: boolean): ProxyTarget {
  const normalized = allowRoot ? normalizeArtifactDir(raw) : normalizeArtifactPath(raw);
  const parts = normalized.split("/");
  const experimentId = parts[0] ?? "";
  const isModel = parts[1] === "models";
  const owner = isModel ? parts[2] : parts[1];
  const rest = parts.slice(isModel ? 4 : 3);
  const ownerOk = isModel ? LOGGED_MODEL_ID.test(owner ?? "") : /^[0-9a-f]{32}$/.test(owner ?? "");
  if (!/^\d+$/.test(experimentId) || !ownerOk || parts[isModel ? 3 : 2] !== "artifacts") {
    throw new InputError(
      `Artifact path '${raw.slice(0, 200)}' is not inside a run or logged model: expected ` +
        "<experiment_id>/<run_id>/artifacts/<path> or <experiment_id>/models/<model_id>/artifacts/<path>",
    );
  }
  const path = rest.join("/");
  if (!allowRoot && path === "") throw new InputError("Artifact path names an artifact root, not a file");
  return isModel
    ? { kind: "model", experimentId, modelId: owner as string, path }
    : { kind: "run", experimentId, runId: owner as string, path };
}

/**
 * MLflow's artifact proxy (`mlflow-artifacts`) and `artifacts/list`. Uploads accept any content type:
 * the MLflow client sends a guessed MIME type (text/plain, application/json, ...), and the body is
 * streamed into the artifact store whatever it is, never parsed or buffered.
 */
export async function registerMlflowArtifactRoutes(
  app: App,
  { runArtifacts, tracking, loggedModels }: Platform,
): Promise<void> {
  /** The experiment in the path must be the owner's: a path cannot alias another experiment's files. */
  const checkExperiment = async (target: ProxyTarget) => {
    const experimentId =
      target.kind === "run"
        ? (await tracking.store.findRunInfo(target.runId))?.experimentId
        : (await loggedModels.store.find(target.modelId))?.experimentId;
    if (experimentId !== undefined && experimentId !== target.experimentId) {
      throw new NotFoundError(
        `${target.kind === "run" ? "Run" : "Logged model"} ${target.kind === "run" ? target.runId : target.modelId} is not in experiment ${target.experimentId}`,
      );
    }
  };

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    scope.put(
      `${ARTIFACT_PROXY_PREFIX}/*`,
      { schema: { tags: ["mlflow"], params: Type.Object({ "*": Type.String() }) } },
      async (request) => {
        const target = parseProxyPath((request.params as { "*": string })["*"], false);
        await checkExperiment(target);
        const body = (request.body as Readable | undefined) ?? Readable.from([]);
        if (target.kind === "run") {
          await runArtifacts.upload(principalOf(request), target.runId, target.path, body);
        } else {
          await loggedModels.upload(principalOf(request), target.modelId, target.path, body);
        }
        return {};
      },
    );
  });

  app.get(
    `${ARTIFACT_PROXY_PREFIX}/*`,
    { schema: { tags: ["mlflow"], params: Type.Object({ "*": Type.String() }) } },
    async (request, reply) => {
      const target = parseProxyPath(request.params["*"], false);
      await checkExperiment(target);
      const { artifact, stream } =
        target.kind === "run"
          ? await runArtifacts.open(principalOf(request), target.runId, target.path)
          : await loggedModels.open(principalOf(request), target.modelId, target.path);
      return reply
        .type("application/octet-stream")
        .header("content-length", artifact.size)
        .header("x-content-sha256", artifact.sha256)
        .send(stream);
    },
  );

  app.get(
    ARTIFACT_PROXY_PREFIX,
    { schema: { tags: ["mlflow"], querystring: Type.Object({ path: Type.Optional(Type.String()) }) } },
    async (request) => {
      const raw = request.query.path ?? "";
      // Above a run's artifact root there is nothing to list (MLflow would list its own directories).
      const depth = normalizeArtifactDir(raw).split("/").filter(Boolean);
      if (depth.length < (depth[1] === "models" ? 4 : 3)) return {};
      const target = parseProxyPath(raw, true);
      await checkExperiment(target);
      const entries =
        target.kind === "run"
          ? await runArtifacts.list(principalOf(request), target.runId, target.path)
          : await loggedModels.list(principalOf(request), target.modelId, target.path);
      const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
      return entries.length > 0 ? { files: entries.map((e) => fileInfoJson(e, (x) => base(x.path))) } : {};
    },
  );

  for (const url of mlflowRoutePaths("artifacts/list")) {
    app.get(
      url,
      { schema: { tags: ["mlflow"], querystring: Type.Object({}, { additionalProperties: true }) } },
      async (request) => {
        const args = argsOf(request);
        const runId = optionalString(args, "run_id") || requiredString(args, "run_uuid");
        const principal = principalOf(request);
        const run = await tracking.getRun(principal, runId);
        const entries = await runArtifacts.list(principal, runId, optionalString(args, "path"));
        const reply: Record<string, unknown> = { root_uri: run.info.artifactUri };
        if (entries.length > 0) reply.files = entries.map((e) => fileInfoJson(e));
        return reply;
      },
    );
  }
}
