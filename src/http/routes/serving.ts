import { Type } from "@sinclair/typebox";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { DeploymentReply, HistoryReply, PlanSchema, StatusReply } from "./serving-schemas.js";

const tags = ["serving"];
const NameParams = Type.Object({ name: Type.String() });
const ReasonBody = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);

/** Deployments: create, list, status, canary, promote, roll back, history. */
export const servingRoutes: RouteModule = (app, platform) => {
  const { deployments } = platform.serving;

  app.post(
    "/api/v1/deployments",
    {
      schema: {
        tags,
        summary: "Create a deployment (production: serves the model's production version)",
        body: Type.Object(
          {
            name: Type.String(),
            project: Type.Optional(Type.String()),
            model: Type.String({ minLength: 1 }),
            version: Type.Optional(Type.Integer({ minimum: 1 })),
            environment: Type.Optional(Type.Union([Type.Literal("production"), Type.Literal("dev")])),
          },
          { additionalProperties: false },
        ),
        response: { 201: DeploymentReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await deployments.create(principalOf(request), request.body)),
  );

  app.get(
    "/api/v1/deployments",
    {
      schema: {
        tags,
        summary: "Deployments (of one project, or of every project you can read)",
        querystring: Type.Object({ project: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ deployments: Type.Array(DeploymentReply) }) },
      },
    },
    async (request) => ({ deployments: await deployments.list(principalOf(request), request.query.project) }),
  );

  app.get(
    "/api/v1/deployments/:name",
    { schema: { tags, summary: "One deployment", params: NameParams, response: { 200: DeploymentReply } } },
    async (request) => deployments.get(principalOf(request), request.params.name),
  );

  app.delete(
    "/api/v1/deployments/:name",
    {
      schema: {
        tags,
        summary: "Delete a deployment (its versions are unloaded once idle)",
        params: NameParams,
      },
    },
    async (request, reply) => {
      await deployments.delete(principalOf(request), request.params.name);
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/deployments/:name/status",
    {
      schema: {
        tags,
        summary: "Versions, weights and per-version requests, errors, latency and label agreement",
        params: NameParams,
        querystring: Type.Object({ since: Type.Optional(Type.Integer({ minimum: 0 })) }),
        response: { 200: StatusReply },
      },
    },
    async (request) =>
      platform.serving.status(principalOf(request), request.params.name, request.query.since),
  );

  app.get(
    "/api/v1/deployments/:name/history",
    {
      schema: {
        tags,
        summary: "Every change of the deployment, oldest first, with the analysis figures",
        params: NameParams,
        response: { 200: Type.Object({ history: Type.Array(HistoryReply) }) },
      },
    },
    async (request) => ({ history: await deployments.history(principalOf(request), request.params.name) }),
  );

  app.post(
    "/api/v1/deployments/:name/canary",
    {
      schema: {
        tags,
        summary: "Start a canary (production: a staging version with a passing validation)",
        params: NameParams,
        body: Type.Object(
          {
            version: Type.Integer({ minimum: 1 }),
            percent: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
            plan: Type.Optional(PlanSchema),
            reason: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: DeploymentReply },
      },
    },
    async (request) => deployments.startCanary(principalOf(request), request.params.name, request.body),
  );

  app.post(
    "/api/v1/deployments/:name/promote",
    {
      schema: {
        tags,
        summary: "Promote the canary now (the registry still requires its passing validation)",
        params: NameParams,
        body: Type.Optional(ReasonBody),
        response: { 200: DeploymentReply },
      },
    },
    async (request) => deployments.promote(principalOf(request), request.params.name, request.body?.reason),
  );

  app.post(
    "/api/v1/deployments/:name/rollback",
    {
      schema: {
        tags,
        summary: "Roll the canary back now (weight 0, canary marked failed)",
        params: NameParams,
        body: Type.Optional(ReasonBody),
        response: { 200: DeploymentReply },
      },
    },
    async (request) => deployments.rollback(principalOf(request), request.params.name, request.body?.reason),
  );
};
