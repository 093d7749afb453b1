import { Type } from "@sinclair/typebox";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

const WebhookReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  createdAt: Type.Integer(),
  createdBy: Type.String(),
});
const Nullable = <T extends ReturnType<typeof Type.Integer> | ReturnType<typeof Type.String>>(t: T) =>
  Type.Union([Type.Null(), t]);
const DeliveryReply = Type.Object({
  id: Type.String(),
  webhookId: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  nextAttemptAt: Nullable(Type.Integer()),
  lastStatusCode: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  attemptLog: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      at: Type.Integer(),
      statusCode: Nullable(Type.Integer()),
      error: Nullable(Type.String()),
      durationMs: Type.Integer(),
    }),
  ),
});
const Params = Type.Object({ project: Type.String(), id: Type.String() });

/** Outgoing webhooks of a project: subscribe, list, remove, delivery log. */
export const webhookRoutes: RouteModule = (app, { webhooks }) => {
  const tags = ["webhooks"];
  app.post(
    "/api/v1/projects/:project/webhooks",
    {
      schema: {
        tags,
        summary:
          "Subscribe a URL to events (e.g. model.*); bodies are signed with X-Mlops-Signature: sha256=<hmac>",
        params: Type.Object({ project: Type.String() }),
        body: Type.Object(
          {
            url: Type.String({ maxLength: 2000 }),
            events: Type.Array(Type.String({ maxLength: 200 }), { minItems: 1, maxItems: 50 }),
            secret: Type.String({ minLength: 16, maxLength: 500 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: WebhookReply },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await webhooks.create(principalOf(request), request.params.project, request.body)),
  );

  app.get(
    "/api/v1/projects/:project/webhooks",
    {
      schema: {
        tags,
        summary: "Webhooks of a project",
        params: Type.Object({ project: Type.String() }),
        response: { 200: Type.Object({ webhooks: Type.Array(WebhookReply) }) },
      },
    },
    async (request) => ({ webhooks: await webhooks.list(principalOf(request), request.params.project) }),
  );

  app.delete(
    "/api/v1/projects/:project/webhooks/:id",
    { schema: { tags, summary: "Remove a webhook", params: Params } },
    async (request, reply) => {
      await webhooks.delete(principalOf(request), request.params.project, request.params.id);
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/projects/:project/webhooks/:id/deliveries",
    {
      schema: {
        tags,
        summary: "Delivery log, newest first, with every attempt",
        params: Params,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }),
        response: { 200: Type.Object({ deliveries: Type.Array(DeliveryReply) }) },
      },
    },
    async (request) => ({
      deliveries: await webhooks.deliveries(
        principalOf(request),
        request.params.project,
        request.params.id,
        request.query.limit,
      ),
    }),
  );
};
