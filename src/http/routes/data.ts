import type { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { InputError } from "../../errors.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import {
  DatasetParams,
  DatasetReply,
  Fractions,
  Item,
  ProjectQuery,
  Revision,
  Sha,
  Split,
  Stats,
} from "./data-schemas.js";

/**
 * Datasets, items, labels and snapshots (docs/architecture/data.md). A dataset is named by its id, or by
 * its name plus `?project=` (default: `default`).
 */
const tags = ["data"];

function ref(request: { params: { dataset: string }; query: { project?: string } }) {
  return { dataset: request.params.dataset, project: request.query.project };
}

export const dataRoutes: RouteModule = (app, platform) => {
  const { datasets, items, labels } = platform.data;

  app.post(
    "/api/v1/datasets",
    {
      schema: {
        tags,
        summary: "Create a dataset",
        body: Type.Object(
          {
            project: Type.Optional(Type.String()),
            name: Type.String(),
            task: Type.String(),
            classes: Type.Optional(Type.Array(Type.String(), { maxItems: 10_000 })),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            splitFractions: Type.Optional(Type.Partial(Fractions)),
            webhookSecret: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: DatasetReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await datasets.create(principalOf(request), request.body)),
  );

  app.get(
    "/api/v1/datasets",
    {
      schema: {
        tags,
        summary: "Datasets visible to the caller",
        querystring: ProjectQuery,
        response: { 200: Type.Object({ datasets: Type.Array(DatasetReply) }) },
      },
    },
    async (request) => ({ datasets: await datasets.list(principalOf(request), request.query.project) }),
  );

  app.get(
    "/api/v1/datasets/:dataset",
    {
      schema: {
        tags,
        summary: "One dataset with item and label counts",
        params: DatasetParams,
        querystring: ProjectQuery,
        response: { 200: Type.Composite([DatasetReply, Type.Object({ stats: Stats })]) },
      },
    },
    async (request) => datasets.get(principalOf(request), ref(request)),
  );

  app.patch(
    "/api/v1/datasets/:dataset",
    {
      schema: {
        tags,
        summary: "Add classes (append-only), change the description or the webhook secret",
        params: DatasetParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            addClasses: Type.Optional(Type.Array(Type.String(), { maxItems: 10_000 })),
            description: Type.Optional(Type.String({ maxLength: 2000 })),
            webhookSecret: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: DatasetReply },
      },
    },
    async (request) => datasets.update(principalOf(request), ref(request), request.body),
  );

  app.post(
    "/api/v1/datasets/:dataset/blobs",
    {
      schema: {
        tags,
        summary: "Upload one image (application/octet-stream, streamed); then reference it from an item",
        params: DatasetParams,
        querystring: Type.Object({ project: Type.Optional(Type.String()), sha256: Type.Optional(Sha) }),
        response: {
          200: Type.Object({ sha256: Type.String(), size: Type.Integer(), created: Type.Boolean() }),
        },
      },
    },
    async (request) => {
      if (!isStream(request.body)) throw new InputError("send the image as application/octet-stream");
      return datasets.uploadBlob(principalOf(request), ref(request), request.body, request.query.sha256);
    },
  );

  app.post(
    "/api/v1/datasets/:dataset/blobs/missing",
    {
      schema: {
        tags,
        summary: "Which of these images are not uploaded to the dataset yet",
        params: DatasetParams,
        querystring: ProjectQuery,
        body: Type.Object({ sha256: Type.Array(Sha, { maxItems: 5000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ missing: Type.Array(Type.String()) }) },
      },
    },
    async (request) => ({
      missing: await datasets.missingBlobs(principalOf(request), ref(request), request.body.sha256),
    }),
  );

  app.post(
    "/api/v1/datasets/:dataset/items",
    {
      schema: {
        tags,
        summary: "Add items (idempotent by key and by image content), optionally with labels",
        params: DatasetParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object(
                {
                  key: Type.Optional(Type.String()),
                  sha256: Type.Optional(Type.String()),
                  url: Type.Optional(Type.String()),
                  sourceName: Type.Optional(Type.String()),
                  label: Type.Optional(Type.Unknown()),
                  labelKey: Type.Optional(Type.String()),
                },
                { additionalProperties: false },
              ),
              { maxItems: 1000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                key: Type.String(),
                id: Type.String(),
                split: Split,
                created: Type.Boolean(),
                revisionId: Type.Union([Type.Integer(), Type.Null()]),
                labelStored: Type.Boolean(),
              }),
            ),
            created: Type.Integer(),
            labelsStored: Type.Integer(),
          }),
        },
      },
    },
    async (request) => {
      const result = await items.addItems(principalOf(request), ref(request), request.body.items);
      return {
        items: result,
        created: result.filter((r) => r.created).length,
        labelsStored: result.filter((r) => r.labelStored).length,
      };
    },
  );

  app.get(
    "/api/v1/datasets/:dataset/items",
    {
      schema: {
        tags,
        summary: "Items with their current label, ordered by id (cursor: `after`)",
        params: DatasetParams,
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          split: Type.Optional(Split),
          after: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Composite([
                Item,
                Type.Object({ label: Type.Unknown(), revisionId: Type.Union([Type.Integer(), Type.Null()]) }),
              ]),
            ),
            nextCursor: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (request) => {
      const page = await datasets.listItems(principalOf(request), ref(request), request.query);
      return {
        items: page.items.map(({ item, revision }) => ({
          ...item,
          label: revision?.label ?? null,
          revisionId: revision?.id ?? null,
        })),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    "/api/v1/datasets/:dataset/items/:item",
    {
      schema: {
        tags,
        summary: "One item (by id or key), its current label and every revision",
        params: Type.Object({ dataset: Type.String(), item: Type.String() }),
        querystring: ProjectQuery,
        response: {
          200: Type.Object({ item: Item, label: Type.Unknown(), revisions: Type.Array(Revision) }),
        },
      },
    },
    async (request) => {
      const { item, revisions } = await datasets.getItem(
        principalOf(request),
        ref(request),
        request.params.item,
      );
      return { item, label: revisions.at(-1)?.label ?? null, revisions };
    },
  );

  app.get(
    "/api/v1/datasets/:dataset/items/:item/image",
    {
      schema: {
        tags,
        summary: "The item's image bytes",
        params: Type.Object({ dataset: Type.String(), item: Type.String() }),
        querystring: ProjectQuery,
      },
    },
    async (request, reply) => {
      const stream = await datasets.openItemImage(principalOf(request), ref(request), request.params.item);
      return reply.type("application/octet-stream").send(stream);
    },
  );

  app.post(
    "/api/v1/datasets/:dataset/labels",
    {
      schema: {
        tags,
        summary: "Push labels (labelers may): idempotent by each label's idempotencyKey",
        params: DatasetParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            labels: Type.Array(
              Type.Object(
                {
                  item: Type.String(),
                  idempotencyKey: Type.String(),
                  label: Type.Optional(Type.Unknown()),
                  delete: Type.Optional(Type.Boolean()),
                  prediction: Type.Optional(
                    Type.Object(
                      {
                        id: Type.Optional(Type.String()),
                        modelVersion: Type.Optional(Type.String()),
                        deployment: Type.Optional(Type.String()),
                        label: Type.Optional(Type.Unknown()),
                      },
                      { additionalProperties: false },
                    ),
                  ),
                },
                { additionalProperties: false },
              ),
              { maxItems: 1000 },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            stored: Type.Integer(),
            duplicates: Type.Integer(),
            revisions: Type.Array(
              Type.Object({
                idempotencyKey: Type.String(),
                itemId: Type.String(),
                revisionId: Type.Integer(),
                duplicate: Type.Boolean(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => labels.push(principalOf(request), ref(request), request.body.labels),
  );
};

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | undefined)?.pipe === "function";
}
