import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { WEBHOOK_SECRET_HEADER } from "../../data/label-studio/receiver.js";
import { tokenFromHeader } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

const Outcome = Type.Object({
  action: Type.String(),
  status: Type.String(),
  itemId: Type.Optional(Type.String()),
  revisionId: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  tombstones: Type.Optional(Type.Integer()),
  duplicates: Type.Optional(Type.Integer()),
});

/**
 * Receiver for Label Studio's outgoing webhooks (docs/architecture/data.md). Public at the HTTP level:
 * Label Studio authenticates with the dataset's shared secret (header X-Mlops-Webhook-Secret) or a
 * platform token with `label` permission (Authorization: Bearer ..., both set in Label Studio's webhook
 * headers); the receiver decides.
 */
export const labelStudioWebhookRoutes: RouteModule = (app, platform) => {
  const receive = async (request: FastifyRequest, dataset: string, project: string | undefined) => {
    const token = tokenFromHeader(request.headers.authorization);
    const principal = token ? await platform.identity.authenticate(token) : undefined;
    const secret = request.headers[WEBHOOK_SECRET_HEADER];
    return platform.data.labelStudio.receive({
      dataset: { dataset, project },
      body: request.body,
      principal,
      secret: typeof secret === "string" ? secret : undefined,
    });
  };

  app.post(
    "/api/v1/integrations/label-studio/webhook",
    {
      config: { public: true },
      schema: {
        tags: ["data"],
        summary:
          "Label Studio webhook receiver (ANNOTATION_CREATED, ANNOTATION_UPDATED, ANNOTATIONS_DELETED)",
        querystring: Type.Object({
          dataset: Type.String({ maxLength: 200 }),
          project: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        body: Type.Unknown(),
        response: { 200: Outcome },
      },
    },
    async (request) => receive(request, request.query.dataset, request.query.project),
  );

  app.post(
    "/api/v1/datasets/:dataset/label-studio/webhook",
    {
      config: { public: true },
      schema: {
        tags: ["data"],
        summary: "Label Studio webhook receiver for one dataset (same as ?dataset=)",
        params: Type.Object({ dataset: Type.String({ maxLength: 200 }) }),
        querystring: Type.Object({ project: Type.Optional(Type.String({ maxLength: 200 })) }),
        body: Type.Unknown(),
        response: { 200: Outcome },
      },
    },
    async (request) => receive(request, request.params.dataset, request.query.project),
  );
};
