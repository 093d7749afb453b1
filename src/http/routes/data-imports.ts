import { Type } from "@sinclair/typebox";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { DatasetParams, ProjectQuery } from "./data-schemas.js";

/**
 * Bulk-import sessions (docs/architecture/data.md): `mlops data import` opens one, reports each batch it adds,
 * and finishes it; the retrain trigger does not fire while one is open (or until it has been idle 10 min).
 */
const tags = ["data"];

const ImportReply = Type.Object({
  id: Type.String(),
  datasetId: Type.String(),
  source: Type.String(),
  items: Type.Integer(),
  startedAt: Type.Number(),
  lastActivityAt: Type.Number(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  createdBy: Type.String(),
});

const ImportParams = Type.Object({
  dataset: Type.String({ maxLength: 200 }),
  id: Type.String({ minLength: 1, maxLength: 64 }),
});

function ref(request: { params: { dataset: string }; query: { project?: string } }) {
  return { dataset: request.params.dataset, project: request.query.project };
}

export const dataImportRoutes: RouteModule = (app, platform) => {
  const { imports } = platform.data;

  app.post(
    "/api/v1/datasets/:dataset/imports",
    {
      schema: {
        tags,
        summary: "Open a bulk-import session (the retrain trigger waits until it is finished)",
        params: DatasetParams,
        querystring: ProjectQuery,
        body: Type.Object(
          { source: Type.Optional(Type.String({ maxLength: 500 })) },
          { additionalProperties: false },
        ),
        response: { 200: ImportReply },
      },
    },
    async (request) => imports.begin(principalOf(request), ref(request), request.body.source ?? "import"),
  );

  app.post(
    "/api/v1/datasets/:dataset/imports/:id/progress",
    {
      schema: {
        tags,
        summary: "Report a batch of an import (keeps the session open)",
        params: ImportParams,
        querystring: ProjectQuery,
        body: Type.Object(
          { items: Type.Integer({ minimum: 0, maximum: 1_000_000 }) },
          { additionalProperties: false },
        ),
        response: { 200: ImportReply },
      },
    },
    async (request) =>
      imports.touch(principalOf(request), ref(request), request.params.id, request.body.items),
  );

  app.post(
    "/api/v1/datasets/:dataset/imports/:id/finish",
    {
      schema: {
        tags,
        summary: "Finish an import session (idempotent)",
        params: ImportParams,
        querystring: ProjectQuery,
        response: { 200: ImportReply },
      },
    },
    async (request) => imports.finish(principalOf(request), ref(request), request.params.id),
  );
};
