import { Type } from "@sinclair/typebox";
import { readiness } from "../../platform.js";
import { principalOf } from "../auth-hook.js";
import { requireMetricsReader } from "../metrics.js";
import type { RuntimeDescription } from "../../runtime/runtime.js";
import type { RouteModule } from "../types.js";

function sandboxWarning(runtime: RuntimeDescription): string {
  const why = runtime.sandboxReason ?? "unknown";
  return runtime.sandbox === "none"
    ? `JOBS RUN WITHOUT ISOLATION: ${why}`
    : `JOB EXECUTION DISABLED, no working sandbox: ${why}`;
}

export const healthRoutes: RouteModule = (app, platform) => {
  app.get(
    "/healthz",
    { config: { public: true }, schema: { tags: ["system"], summary: "Liveness" } },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    {
      config: { public: true },
      schema: {
        tags: ["system"],
        summary: "Readiness: database reachable, migrations applied; the job sandbox's state",
      },
    },
    async (_request, reply) => {
      const state = await readiness(platform);
      // The API stays ready without a sandbox; job execution is what is off, and it says so loudly.
      const runtime = platform.runtime.describe();
      const sandbox = {
        sandbox: runtime.sandbox,
        ...(runtime.sandbox === "bubblewrap" ? {} : { sandboxWarning: sandboxWarning(runtime) }),
      };
      return reply
        .status(state.ready ? 200 : 503)
        .send(
          state.ready
            ? { status: "ready", database: platform.store.dialect.name, ...sandbox }
            : { status: "not ready", reason: state.reason, ...sandbox },
        );
    },
  );

  const metricsAuth = platform.config.metricsAuth === "token";
  app.get(
    "/metrics",
    { config: { public: !metricsAuth }, schema: { hide: true } },
    async (request, reply) => {
      if (metricsAuth) requireMetricsReader(principalOf(request));
      reply.type(platform.metrics.registry.contentType);
      return platform.metrics.registry.metrics();
    },
  );

  app.get(
    "/api/v1/status",
    {
      schema: {
        tags: ["system"],
        summary: "Server status",
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ({
      version: "0.1.0",
      database: platform.store.dialect.name,
      holder: platform.holderId,
      leader: platform.leader.isHeld(),
    }),
  );
};
