import { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { normalizeArtifactDir, normalizeArtifactPath } from "../artifacts/artifact-path.js";
import { InputError, NotFoundError } from "../errors.js";
import { principalOf } from "../http/auth-hook.js";
import type { App } from "../http/types.js";
import type { Platform } from "../platform.js";
import { argsOf, mlflowRoutePaths, optionalString, requiredString } from "./mlflow-args.js";
import { fileInfoJson } from "./mlflow-shapes.js";

export const ARTIFACT_PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts";

/**
 * A proxy path names one run's file the way MLflow builds it from the run's artifact URI
 * (`mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`): `<experiment_id>/<run_id>/artifacts/<path>`.
 */
export function parseProxyPath(
  raw: string,
  allowRoot: boolean,
): { experimentId: string; runId: string; path: string } {
  const normalized = allowRoot ? normalizeArtifactDir(raw) : normalizeArtifactPath(raw);
  const [experimentId, runId, artifacts, ...rest] = normalized.split("/");
  if (!/^\d+$/.test(experimentId ?? "") || !/^[0-9a-f]{32}$/.test(runId ?? "") || artifacts !== "artifacts") {
    throw new InputError(
      `Artifact path '${raw.slice(0, 200)}' is not inside a run: expected <experiment_id>/<run_id>/artifacts/<path>`,
    );
  }
  const path = rest.join("/");
  if (!allowRoot && path === "")
    throw new InputError("Artifact path names the run's artifact root, not a file");
  return { experimentId, runId, path };
}

/**
 * MLflow's artifact proxy (`mlflow-artifacts`) and `artifacts/list`. Uploads accept any content type:
 * the MLflow client sends a guessed MIME type (text/plain, application/json, ...), and the body is
 * streamed into the artifact store whatever it is, never parsed or buffered.
 */
export async function registerMlflowArtifactRoutes(
  app: App,
  { runArtifacts, tracking }: Platform,
): Promise<void> {
  const checkExperiment = async (runId: string, experimentId: string) => {
    const run = await tracking.store.findRunInfo(runId);
    if (run && run.experimentId !== experimentId) {
      throw new NotFoundError(`Run ${runId} is not in experiment ${experimentId}`);
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
        await checkExperiment(target.runId, target.experimentId);
        const body = request.body as Readable | undefined;
        await runArtifacts.upload(principalOf(request), target.runId, target.path, body ?? Readable.from([]));
        return {};
      },
    );
  });

  app.get(
    `${ARTIFACT_PROXY_PREFIX}/*`,
    { schema: { tags: ["mlflow"], params: Type.Object({ "*": Type.String() }) } },
    async (request, reply) => {
      const target = parseProxyPath(request.params["*"], false);
      await checkExperiment(target.runId, target.experimentId);
      const { artifact, stream } = await runArtifacts.open(principalOf(request), target.runId, target.path);
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
      if (normalizeArtifactDir(raw).split("/").filter(Boolean).length < 3) return {};
      const target = parseProxyPath(raw, true);
      await checkExperiment(target.runId, target.experimentId);
      const entries = await runArtifacts.list(principalOf(request), target.runId, target.path);
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
