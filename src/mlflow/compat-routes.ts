import type { App } from "../http/types.js";

/** The MLflow server version this API answers as (docs/mlflow.md): the 3.x REST surface, logged models included. */
export const MLFLOW_COMPAT_VERSION = "3.4.0";

/** Every prefix an MLflow client or the MLflow UI calls, 3.0 (traces, ...) included. */
const MLFLOW_API_PREFIXES = [
  "/api/2.0/mlflow",
  "/ajax-api/2.0/mlflow",
  "/api/3.0/mlflow",
  "/ajax-api/3.0/mlflow",
] as const;

/**
 * `GET /version`, and MLflow's `ENDPOINT_NOT_FOUND` for any other path under the MLflow prefixes, so a
 * 3.x client that probes a newer API (e.g. `/api/3.0/mlflow/traces`) sees what an MLflow server says and
 * falls back instead of failing on a foreign error shape. Known routes always win over the wildcard.
 */
export function registerMlflowCompatRoutes(app: App): void {
  app.get(
    "/version",
    { config: { public: true }, schema: { tags: ["mlflow"], summary: "MLflow server version" } },
    async (_request, reply) => reply.type("text/plain; charset=utf-8").send(MLFLOW_COMPAT_VERSION),
  );
  for (const prefix of MLFLOW_API_PREFIXES) {
    app.all(`${prefix}/*`, { schema: { hide: true } }, async (request, reply) =>
      reply
        .status(404)
        .type("application/json")
        .send({
          error_code: "ENDPOINT_NOT_FOUND",
          message: `No API endpoint found for ${request.method} ${request.url.split("?")[0]}`,
        }),
    );
  }
}
