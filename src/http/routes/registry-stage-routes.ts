import { Type } from "@sinclair/typebox";
import { DEFAULT_PROJECT } from "../../auth/identity-service.js";
import { parseStage, STAGES } from "../../registry/stages.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import {
  NameParams,
  ProjectQuery,
  StandingReply,
  TransitionReply,
  TransitionResultReply,
  ValidationReply,
  VersionParams,
  VersionReply,
} from "./registry-schemas.js";

const tags = ["registry"];
const projectOf = (query: { project?: string }) => query.project || DEFAULT_PROJECT;

/** Stage transitions, aliases, history and validation records of the native registry API. */
export const registryStageRoutes: RouteModule = (app, { registry }) => {
  app.post(
    "/api/v1/models/:name/versions/:version/transition",
    {
      schema: {
        tags,
        summary: `Move a version to another stage (${STAGES.join(", ")}); production needs a passing validation`,
        params: VersionParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            stage: Type.String(),
            reason: Type.String({ minLength: 1, maxLength: 2000 }),
            archiveExisting: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: TransitionResultReply },
      },
    },
    async (request) =>
      registry.transition(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.version,
        parseStage(request.body.stage),
        { reason: request.body.reason, archiveExisting: request.body.archiveExisting },
      ),
  );

  app.post(
    "/api/v1/models/:name/versions/:version/promote",
    {
      schema: {
        tags,
        summary: "Move a version to production (archives the previous production version)",
        params: VersionParams,
        querystring: ProjectQuery,
        body: Type.Object(
          { reason: Type.String({ minLength: 1, maxLength: 2000 }) },
          { additionalProperties: false },
        ),
        response: { 200: TransitionResultReply },
      },
    },
    async (request) =>
      registry.transition(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.version,
        "production",
        {
          reason: request.body.reason,
        },
      ),
  );

  app.get(
    "/api/v1/models/:name/versions/:version/standing",
    {
      schema: {
        tags,
        summary: "Whether the version passes the gate now",
        params: VersionParams,
        querystring: ProjectQuery,
        response: { 200: StandingReply },
      },
    },
    async (request) => {
      const { version } = await registry.getVersion(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.version,
      );
      return registry.hasPassingValidation(version.id);
    },
  );

  app.put(
    "/api/v1/models/:name/aliases/:alias",
    {
      schema: {
        tags,
        summary: "Point an alias at a version",
        params: Type.Object({ name: Type.String(), alias: Type.String() }),
        querystring: ProjectQuery,
        body: Type.Object({ version: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
        response: { 200: VersionReply },
      },
    },
    async (request) =>
      registry.setAlias(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.alias,
        request.body.version,
      ),
  );

  app.get(
    "/api/v1/models/:name/aliases/:alias",
    {
      schema: {
        tags,
        summary: "The version an alias points at",
        params: Type.Object({ name: Type.String(), alias: Type.String() }),
        querystring: ProjectQuery,
        response: { 200: VersionReply },
      },
    },
    async (request) =>
      registry.getByAlias(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.alias,
      ),
  );

  app.delete(
    "/api/v1/models/:name/aliases/:alias",
    {
      schema: {
        tags,
        summary: "Remove an alias",
        params: Type.Object({ name: Type.String(), alias: Type.String() }),
        querystring: ProjectQuery,
      },
    },
    async (request, reply) => {
      await registry.deleteAlias(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.params.alias,
      );
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/models/:name/history",
    {
      schema: {
        tags,
        summary: "Stage transitions (who, when, why, evidence), oldest first",
        params: NameParams,
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          version: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$" })),
        }),
        response: { 200: Type.Object({ transitions: Type.Array(TransitionReply) }) },
      },
    },
    async (request) => ({
      transitions: await registry.history(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.query.version,
      ),
    }),
  );

  app.get(
    "/api/v1/models/:name/validations",
    {
      schema: {
        tags,
        summary: "Validation records, newest first",
        params: NameParams,
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          version: Type.Optional(Type.String({ pattern: "^[0-9]{1,15}$" })),
        }),
        response: { 200: Type.Object({ validations: Type.Array(ValidationReply) }) },
      },
    },
    async (request) => ({
      validations: await registry.listValidations(
        principalOf(request),
        projectOf(request.query),
        request.params.name,
        request.query.version,
      ),
    }),
  );
};
