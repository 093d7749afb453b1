import { Type } from "@sinclair/typebox";
import { requireGlobal } from "../../auth/authorization.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

const AuditEventReply = Type.Object({
  id: Type.Integer(),
  at: Type.Integer(),
  actor: Type.String(),
  action: Type.String(),
  subjectType: Type.String(),
  subjectId: Type.String(),
  projectId: Type.Union([Type.Null(), Type.String()]),
  reason: Type.Union([Type.Null(), Type.String()]),
  details: Type.Object({}, { additionalProperties: true }),
});

export const auditRoutes: RouteModule = (app, { audit, identity, leases }) => {
  app.get(
    "/api/v1/audit",
    {
      schema: {
        tags: ["audit"],
        summary:
          "Audit log, newest first; page with ?before=<nextCursor>. Admins see all; others pass ?project=",
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          subjectType: Type.Optional(Type.String()),
          subjectId: Type.Optional(Type.String()),
          action: Type.Optional(Type.String()),
          actor: Type.Optional(Type.String()),
          before: Type.Optional(Type.Integer({ minimum: 1 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: {
          200: Type.Object({
            events: Type.Array(AuditEventReply),
            nextCursor: Type.Optional(Type.Integer()),
          }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const { project, ...query } = request.query;
      let projectId: string | undefined;
      if (project) projectId = (await identity.getProject(principal, project, "read")).id;
      else requireGlobal(principal, "admin");
      return audit.query({ ...query, projectId });
    },
  );

  app.get(
    "/api/v1/admin/leases",
    {
      schema: {
        tags: ["admin"],
        summary: "Leases held by control-plane processes (admin)",
        response: {
          200: Type.Object({
            leases: Type.Array(
              Type.Object({
                name: Type.String(),
                holder: Type.String(),
                acquiredAt: Type.Integer(),
                renewedAt: Type.Integer(),
                expiresAt: Type.Integer(),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      requireGlobal(principalOf(request), "admin");
      return { leases: await leases.list() };
    },
  );
};
