import type { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import { DEFAULT_PROJECT } from "../../auth/identity-service.js";
import { InputError } from "../../errors.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { registryEvaluationRoutes } from "./registry-evaluation-routes.js";
import { registryStageRoutes } from "./registry-stage-routes.js";
import {
  GateSchema,
  ModelReply,
  NameParams,
  ProjectQuery,
  VersionParams,
  VersionReply,
} from "./registry-schemas.js";

const tags = ["registry"];
const projectOf = (query: { project?: string }) => query.project || DEFAULT_PROJECT;
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024;

/** Native registry API: `/api/v1/models...`, project by `?project=` (default: `default`). */
export const registryRoutes: RouteModule = (app, platform) => {
  const { registry, artifacts } = platform;
  app.post(
    "/api/v1/models",
    {
      schema: {
        tags,
        summary: "Register a model",
        querystring: ProjectQuery,
        body: Type.Object(
          {
            name: Type.String(),
            description: Type.Optional(Type.String({ maxLength: 5000 })),
            tags: Type.Optional(Type.Record(Type.String(), Type.String())),
            gate: Type.Optional(GateSchema),
          },
          { additionalProperties: false },
        ),
        response: { 201: ModelReply },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await registry.createModel(principalOf(request), projectOf(request.query), request.body)),
  );

  app.get(
    "/api/v1/models",
    {
      schema: {
        tags,
        summary: "Registered models of a project",
        querystring: ProjectQuery,
        response: { 200: Type.Object({ models: Type.Array(ModelReply) }) },
      },
    },
    async (request) => ({
      models: await registry.listModels(principalOf(request), projectOf(request.query)),
    }),
  );

  app.get(
    "/api/v1/models/:name",
    {
      schema: {
        tags,
        summary: "One registered model",
        params: NameParams,
        querystring: ProjectQuery,
        response: { 200: ModelReply },
      },
    },
    async (request) => registry.getModel(principalOf(request), projectOf(request.query), request.params.name),
  );

  app.patch(
    "/api/v1/models/:name",
    {
      schema: {
        tags,
        summary: "Rename a model or change its description",
        params: NameParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            newName: Type.Optional(Type.String()),
            description: Type.Optional(Type.String({ maxLength: 5000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ModelReply },
      },
    },
    async (request) =>
      registry.updateModel(principalOf(request), projectOf(request.query), request.params.name, request.body),
  );

  app.delete(
    "/api/v1/models/:name",
    {
      schema: {
        tags,
        summary: "Delete a model with all its versions",
        params: NameParams,
        querystring: ProjectQuery,
      },
    },
    async (request, reply) => {
      await registry.deleteModel(principalOf(request), projectOf(request.query), request.params.name);
      return reply.status(204).send();
    },
  );

  app.put(
    "/api/v1/models/:name/gate",
    {
      schema: {
        tags,
        summary: "Set the validation gate a version must pass to reach production",
        params: NameParams,
        querystring: ProjectQuery,
        body: GateSchema,
        response: { 200: ModelReply },
      },
    },
    async (request) =>
      registry.setGate(principalOf(request), projectOf(request.query), request.params.name, request.body),
  );

  app.delete(
    "/api/v1/models/:name/gate",
    {
      schema: {
        tags,
        summary: "Remove the gate (production then refuses every version)",
        params: NameParams,
        querystring: ProjectQuery,
        response: { 200: ModelReply },
      },
    },
    async (request) =>
      registry.setGate(principalOf(request), projectOf(request.query), request.params.name, null),
  );

  app.post(
    "/api/v1/models/uploads",
    {
      schema: {
        tags,
        summary: "Upload one file (application/octet-stream) for a version created with `files`",
        querystring: ProjectQuery,
        response: { 201: Type.Object({ sha256: Type.String(), size: Type.Integer() }) },
      },
    },
    async (request, reply) => {
      const project = await registry.project(principalOf(request), projectOf(request.query), "write");
      if (!request.headers["content-type"]?.startsWith("application/octet-stream")) {
        throw new InputError("send the file as application/octet-stream");
      }
      const put = await artifacts.put(request.body as Readable, { maxBytes: MAX_UPLOAD_BYTES });
      await platform.blobs.claim(project.id, [put.sha256]);
      return reply.status(201).send({ sha256: put.sha256, size: put.size });
    },
  );

  app.post(
    "/api/v1/models/:name/versions",
    {
      schema: {
        tags,
        summary: "Create a version from a run's artifact directory (runId, path=model) or uploaded files",
        params: NameParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            runId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            path: Type.Optional(Type.String({ maxLength: 1024 })),
            files: Type.Optional(
              Type.Array(
                Type.Object({ path: Type.String(), sha256: Type.String() }, { additionalProperties: false }),
                {
                  minItems: 1,
                  maxItems: 1000,
                },
              ),
            ),
            description: Type.Optional(Type.String({ maxLength: 5000 })),
            tags: Type.Optional(Type.Record(Type.String(), Type.String())),
          },
          { additionalProperties: false },
        ),
        response: { 201: VersionReply },
      },
    },
    async (request, reply) => {
      const { runId, path, files, description, tags: versionTags } = request.body;
      if (Boolean(runId) === Boolean(files)) throw new InputError("give either runId (and path) or files");
      const input = runId
        ? { kind: "run" as const, runId, path }
        : { kind: "upload" as const, files: files ?? [] };
      const created = await registry.createVersion(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        input,
        {
          description,
          tags: versionTags,
        },
      );
      return reply.status(201).send(created);
    },
  );

  app.get(
    "/api/v1/models/:name/versions",
    {
      schema: {
        tags,
        summary: "Versions, newest first",
        params: NameParams,
        querystring: ProjectQuery,
        response: { 200: Type.Object({ versions: Type.Array(VersionReply) }) },
      },
    },
    async (request) => ({
      versions: await registry.listVersions(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
      ),
    }),
  );

  app.get(
    "/api/v1/models/:name/versions/:version",
    {
      schema: {
        tags,
        summary: "One version",
        params: VersionParams,
        querystring: ProjectQuery,
        response: { 200: VersionReply },
      },
    },
    async (request) =>
      (
        await registry.getVersion(
          principalOf(request),
          projectOf(request.query),
          request.params.name,
          request.params.version,
        )
      ).version,
  );

  app.get(
    "/api/v1/models/:name/versions/:version/files/*",
    {
      schema: {
        tags,
        summary: "Download one file of a version",
        params: Type.Object({ name: Type.String(), version: Type.String(), "*": Type.String() }),
        querystring: ProjectQuery,
      },
    },
    async (request, reply) => {
      const { version } = await registry.getVersion(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.version,
      );
      const file = version.files.find((f) => f.path === request.params["*"]);
      if (!file) throw new InputError(`version ${version.version} has no file '${request.params["*"]}'`);
      const stream = await artifacts.get(file.sha256);
      return reply.type("application/octet-stream").header("content-length", file.size).send(stream);
    },
  );

  registryStageRoutes(app, platform);
  registryEvaluationRoutes(app, platform);
};
