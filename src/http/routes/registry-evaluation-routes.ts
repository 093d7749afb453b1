import { PassThrough } from "node:stream";
import { Type } from "@sinclair/typebox";
import { DEFAULT_PROJECT } from "../../auth/identity-service.js";
import { isDomainError } from "../../errors.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { EvaluationReply, ProjectQuery, ValidationReply, VersionParams } from "./registry-schemas.js";

const tags = ["registry"];
const projectOf = (query: { project?: string }) => query.project || DEFAULT_PROJECT;
const NDJSON = "application/x-ndjson";

/**
 * Validation records: measured by the platform (`evaluate`), or reported by an administrator
 * (docs/architecture/registry.md, "Measured validation").
 */
export const registryEvaluationRoutes: RouteModule = (app, { evaluation }) => {
  app.post(
    "/api/v1/models/:name/versions/:version/evaluate",
    {
      schema: {
        tags,
        summary:
          "The platform measures the version on a snapshot's split (default holdout) and records it (provenance platform); " +
          `with Accept: ${NDJSON} the reply streams {progress} lines, then {result} or {error}`,
        params: VersionParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            snapshot: Type.String({ minLength: 1, maxLength: 200 }),
            split: Type.Optional(Type.String({ maxLength: 20 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Unknown({ description: `${NDJSON} stream` }), 201: EvaluationReply },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      // Everything that can be refused is checked before measuring, so refusals are plain 4xx replies.
      const plan = await evaluation.plan(
        principal,
        projectOf(request.query),
        request.params.name,
        request.params.version,
        request.body,
      );
      if (!(request.headers.accept ?? "").includes(NDJSON)) {
        return reply.status(201).send(await evaluation.run(principal, plan));
      }
      const stream = new PassThrough();
      const line = (value: unknown) => stream.write(`${JSON.stringify(value)}\n`);
      void evaluation
        .run(principal, plan, (progress) => line({ progress }))
        .then((result) => line({ result }))
        .catch((err: unknown) => {
          request.log.warn({ err }, "evaluation failed");
          line({
            error: isDomainError(err)
              ? { code: err.code, message: err.message }
              : { code: "INTERNAL", message: "the evaluation failed; see the server log" },
          });
        })
        .finally(() => stream.end());
      return reply.status(200).type(NDJSON).send(stream);
    },
  );

  app.post(
    "/api/v1/models/:name/versions/:version/validations",
    {
      schema: {
        tags,
        summary:
          "Administrators: record metrics measured elsewhere on an existing snapshot (provenance reported; a platform gate does not count it)",
        params: VersionParams,
        querystring: ProjectQuery,
        body: Type.Object(
          {
            snapshot: Type.String({ minLength: 1, maxLength: 200 }),
            metrics: Type.Record(Type.String(), Type.Number()),
            runId: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: ValidationReply },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await evaluation.report(
            principalOf(request),
            projectOf(request.query),
            request.params.name,
            request.params.version,
            request.body,
          ),
        ),
  );
};
