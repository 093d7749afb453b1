import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { LogController } from "fastify";
import type { App } from "./types.js";
import { InputError } from "../errors.js";
import type { Platform } from "../platform.js";
import { registerAuthHook } from "./auth-hook.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { jsonNestingExceeds, MAX_JSON_DEPTH } from "./json-depth.js";
import { routeModules } from "./routes/index.js";

export type { App } from "./types.js";

export const API_VERSION = "0.1.0";

/** Assembles the HTTP server: validation, limits, auth, metrics, OpenAPI, error mapping, routes. */
export async function buildServer(
  platform: Platform,
  options: { logger?: boolean | object } = {},
): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? { level: platform.config.logLevel },
    bodyLimit: platform.config.bodyLimitBytes,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
    forceCloseConnections: "idle",
    return503OnClosing: true,
    logController: new LogController({ disableRequestLogging: platform.config.logLevel !== "debug" }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);

  // JSON bodies: fastify's parser scans every body with two regular expressions for prototype poisoning
  // (keys `__proto__`/`constructor`, also as \u escapes). A body containing none of those strings and no
  // escape cannot carry such a key, so it skips the scans (a few % of an inference request's CPU with a
  // 60 KB tensor); anything else, and every body that fails to parse, takes fastify's own checked path.
  const checkedJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body as string;
    if (jsonNestingExceeds(text)) {
      done(new InputError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      return;
    }
    let parsed: unknown;
    let ok = false;
    if (
      text.length > 0 &&
      !text.includes("\\u") &&
      !text.includes("__proto__") &&
      !text.includes("constructor")
    ) {
      try {
        parsed = JSON.parse(text);
        ok = true;
      } catch {
        // Invalid JSON: fastify's parser answers with its own 400.
      }
    }
    if (ok) done(null, parsed);
    else checkedJson(request, text, done);
  });

  // Binary uploads are streamed to the route (artifacts, images); the route consumes request.body as a stream.
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => done(null, payload));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "mlops-platform API",
        version: API_VERSION,
        description: "Native API of mlops-platform",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  const { requests, duration } = platform.metrics;
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });

  registerAuthHook(app, platform.identity);
  for (const register of routeModules) await register(app, platform);

  app.get("/api/v1/openapi.json", { config: { public: true }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
  return app;
}
