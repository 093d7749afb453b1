import { Type } from "@sinclair/typebox";
import { requireGlobal } from "../../auth/authorization.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { AgreementRow, DatasetParams, ProjectQuery, Sha, Snapshot } from "./data-schemas.js";

/** Snapshots (immutable, content-hashed manifests), diffs, exports and label agreement (docs/architecture/data.md). */
const tags = ["data"];

function ref(request: { params: { dataset: string }; query: { project?: string } }) {
  return { dataset: request.params.dataset, project: request.query.project };
}

export const dataSnapshotRoutes: RouteModule = (app, platform) => {
  const { datasets, snapshots, agreement } = platform.data;

  app.post(
    "/api/v1/datasets/:dataset/snapshots",
    {
      schema: {
        tags,
        summary: "Snapshot the current labels (201 new; 200 when identical content was snapshotted before)",
        params: DatasetParams,
        querystring: ProjectQuery,
        response: {
          200: Type.Composite([Snapshot, Type.Object({ created: Type.Boolean() })]),
          201: Type.Composite([Snapshot, Type.Object({ created: Type.Boolean() })]),
        },
      },
    },
    async (request, reply) => {
      const snapshot = await snapshots.create(principalOf(request), ref(request));
      return reply.status(snapshot.created ? 201 : 200).send(snapshot);
    },
  );

  app.get(
    "/api/v1/datasets/:dataset/snapshots",
    {
      schema: {
        tags,
        summary: "Snapshots of a dataset, newest first",
        params: DatasetParams,
        querystring: ProjectQuery,
        response: { 200: Type.Object({ snapshots: Type.Array(Snapshot) }) },
      },
    },
    async (request) => ({ snapshots: await snapshots.list(principalOf(request), ref(request)) }),
  );

  app.get(
    "/api/v1/datasets/:dataset/label-changes",
    {
      schema: {
        tags,
        summary: "How many labels are new, changed or deleted since a snapshot (or in all)",
        params: DatasetParams,
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          since: Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({ count: Type.Integer(), since: Type.Union([Type.String(), Type.Null()]) }),
        },
      },
    },
    async (request) => {
      const dataset = await datasets.get(principalOf(request), ref(request));
      const since = request.query.since
        ? ((await snapshots.findSnapshot(request.query.since))?.id ?? request.query.since)
        : null;
      return { count: await platform.data.countLabelChangesSince(dataset.id, since), since };
    },
  );

  app.get(
    "/api/v1/datasets/:dataset/agreement",
    {
      schema: {
        tags,
        summary: "Label agreement per model version and deployment on this dataset",
        params: DatasetParams,
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          modelVersion: Type.Optional(Type.String()),
          deployment: Type.Optional(Type.String()),
          since: Type.Optional(Type.Integer()),
        }),
        response: { 200: Type.Object({ agreement: Type.Array(AgreementRow) }) },
      },
    },
    async (request) => ({
      agreement: await agreement.forDataset(principalOf(request), ref(request), request.query),
    }),
  );

  app.get(
    "/api/v1/agreement",
    {
      schema: {
        tags,
        summary: "Label agreement per model version and deployment, over all datasets",
        querystring: Type.Object({
          modelVersion: Type.Optional(Type.String()),
          deployment: Type.Optional(Type.String()),
          since: Type.Optional(Type.Integer()),
        }),
        response: { 200: Type.Object({ agreement: Type.Array(AgreementRow) }) },
      },
    },
    async (request) => {
      requireGlobal(principalOf(request), "read");
      const q = request.query;
      const rows = await agreement.all();
      return {
        agreement: rows.filter(
          (r) =>
            (q.modelVersion === undefined || r.modelVersion === q.modelVersion) &&
            (q.deployment === undefined || r.deployment === q.deployment),
        ),
      };
    },
  );

  app.get(
    "/api/v1/snapshots/:snapshot",
    {
      schema: {
        tags,
        summary: "One snapshot (full id or a unique prefix of 8+ characters)",
        params: Type.Object({ snapshot: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Composite([Snapshot, Type.Object({ dataset: Type.String(), projectId: Type.String() })]),
        },
      },
    },
    async (request) => snapshots.get(principalOf(request), request.params.snapshot),
  );

  app.get(
    "/api/v1/snapshots/:snapshot/manifest",
    {
      schema: {
        tags,
        summary: "The snapshot manifest (JSON; its sha256 is the snapshot id)",
        params: Type.Object({ snapshot: Type.String({ maxLength: 64 }) }),
      },
    },
    async (request, reply) => {
      const { snapshot, stream } = await snapshots.openManifest(
        principalOf(request),
        request.params.snapshot,
      );
      return reply
        .type("application/json")
        .header("etag", `"${snapshot.id}"`)
        .header("content-length", String(snapshot.manifestSize))
        .send(stream);
    },
  );

  app.get(
    "/api/v1/snapshots/:snapshot/blobs/:sha256",
    {
      schema: {
        tags,
        summary: "An image of the snapshot, by sha256",
        params: Type.Object({ snapshot: Type.String({ maxLength: 64 }), sha256: Sha }),
      },
    },
    async (request, reply) => {
      const { size, stream } = await snapshots.openBlob(
        principalOf(request),
        request.params.snapshot,
        request.params.sha256,
      );
      return reply.type("application/octet-stream").header("content-length", String(size)).send(stream);
    },
  );

  app.get(
    "/api/v1/snapshots/:from/diff/:to",
    {
      schema: {
        tags,
        summary: "Items added, removed and relabeled between two snapshots",
        params: Type.Object({ from: Type.String({ maxLength: 64 }), to: Type.String({ maxLength: 64 }) }),
      },
    },
    async (request) => snapshots.diff(principalOf(request), request.params.from, request.params.to),
  );
};
