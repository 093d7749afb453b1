import { Type } from "@sinclair/typebox";
import { ROLES } from "../../auth/roles.js";
import { principalOf } from "../auth-hook.js";
import { Name } from "../schemas.js";
import type { RouteModule } from "../types.js";

const ProjectReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  createdAt: Type.Integer(),
  createdBy: Type.String(),
  quotas: Type.Object({ gpus: Type.Optional(Type.Integer()) }),
});
const MemberReply = Type.Object({
  projectId: Type.String(),
  userId: Type.String(),
  userName: Type.String(),
  role: Type.String(),
  addedAt: Type.Integer(),
});
const ProjectParams = Type.Object({ project: Type.String() });

export const projectRoutes: RouteModule = (app, { identity }) => {
  app.post(
    "/api/v1/projects",
    {
      schema: {
        tags: ["projects"],
        summary: "Create a project",
        body: Type.Object(
          { name: Name, description: Type.Optional(Type.String({ maxLength: 2000 })) },
          { additionalProperties: false },
        ),
        response: { 201: ProjectReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await identity.createProject(principalOf(request), request.body)),
  );

  app.get(
    "/api/v1/projects",
    {
      schema: {
        tags: ["projects"],
        summary: "Projects visible to the caller",
        response: { 200: Type.Object({ projects: Type.Array(ProjectReply) }) },
      },
    },
    async (request) => ({ projects: await identity.listProjects(principalOf(request)) }),
  );

  app.get(
    "/api/v1/projects/:project",
    {
      schema: {
        tags: ["projects"],
        summary: "One project",
        params: ProjectParams,
        response: { 200: ProjectReply },
      },
    },
    async (request) => identity.getProject(principalOf(request), request.params.project),
  );

  app.get(
    "/api/v1/projects/:project/members",
    {
      schema: {
        tags: ["projects"],
        summary: "Project members",
        params: ProjectParams,
        response: { 200: Type.Object({ members: Type.Array(MemberReply) }) },
      },
    },
    async (request) => ({
      members: await identity.listMembers(principalOf(request), request.params.project),
    }),
  );

  app.put(
    "/api/v1/projects/:project/members/:user",
    {
      schema: {
        tags: ["projects"],
        summary: "Add a member or change their role",
        params: Type.Object({ project: Type.String(), user: Type.String() }),
        body: Type.Object(
          { role: Type.Union(ROLES.map((r) => Type.Literal(r))) },
          { additionalProperties: false },
        ),
        response: { 200: MemberReply },
      },
    },
    async (request) =>
      identity.setMember(
        principalOf(request),
        request.params.project,
        request.params.user,
        request.body.role,
      ),
  );

  app.delete(
    "/api/v1/projects/:project/members/:user",
    {
      schema: {
        tags: ["projects"],
        summary: "Remove a member",
        params: Type.Object({ project: Type.String(), user: Type.String() }),
      },
    },
    async (request, reply) => {
      await identity.removeMember(principalOf(request), request.params.project, request.params.user);
      return reply.status(204).send();
    },
  );

  app.put(
    "/api/v1/projects/:project/quotas",
    {
      schema: {
        tags: ["projects"],
        summary: "Set project quotas (admin)",
        params: ProjectParams,
        body: Type.Object(
          { gpus: Type.Optional(Type.Integer({ minimum: 0 })) },
          { additionalProperties: false },
        ),
        response: { 200: ProjectReply },
      },
    },
    async (request) => identity.setQuotas(principalOf(request), request.params.project, request.body),
  );
};
