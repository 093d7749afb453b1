import { Type } from "@sinclair/typebox";
import { readiness } from "../../platform.js";
import type { RouteModule } from "../types.js";

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
      schema: { tags: ["system"], summary: "Readiness: database reachable, migrations applied" },
    },
    async (_request, reply) => {
      const state = await readiness(platform);
      return reply
        .status(state.ready ? 200 : 503)
        .send(
          state.ready
            ? { status: "ready", database: platform.store.dialect.name }
            : { status: "not ready", reason: state.reason },
        );
    },
  );

  app.get("/metrics", { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    reply.type(platform.metrics.registry.contentType);
    return platform.metrics.registry.metrics();
  });

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
