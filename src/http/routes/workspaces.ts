import { Type } from "@sinclair/typebox";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";

const Nullable = <T extends ReturnType<typeof Type.Integer> | ReturnType<typeof Type.Number>>(t: T) =>
  Type.Union([Type.Null(), t]);
const Resources = Type.Object({
  cpu: Type.Number(),
  memoryMiB: Type.Integer(),
  gpus: Type.Integer(),
  gpuType: Type.Optional(Type.String()),
});
const WorkspaceReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  name: Type.String(),
  owner: Type.String(),
  state: Type.String(),
  stateReason: Type.String(),
  resources: Resources,
  image: Type.Optional(Type.String()),
  idleTimeoutSeconds: Type.Integer(),
  jobId: Type.Union([Type.Null(), Type.String()]),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  startedAt: Nullable(Type.Integer()),
  hostKeyFingerprint: Type.String(),
  connection: Type.Optional(
    Type.Union([
      Type.Null(),
      Type.Object({ host: Type.String(), port: Type.Integer(), user: Type.String() }),
    ]),
  ),
  sessions: Type.Optional(Type.Integer()),
  lastActivityAt: Type.Optional(Nullable(Type.Integer())),
});
const ConnectionReply = Type.Object({
  alias: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  user: Type.String(),
  hostPublicKey: Type.String(),
  hostKeyFingerprint: Type.String(),
});
const SshKeyReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  publicKey: Type.String(),
  fingerprint: Type.String(),
  comment: Type.String(),
  createdAt: Type.Integer(),
});
const LimitsReply = Type.Object({
  projectId: Type.String(),
  maxGpus: Nullable(Type.Integer()),
  maxLifetimeSeconds: Nullable(Type.Number()),
});
const Params = Type.Object({ workspace: Type.String({ maxLength: 200 }) });
const ProjectQuery = Type.Object({ project: Type.Optional(Type.String({ maxLength: 200 })) });
const Duration = Type.Union([Type.String({ maxLength: 40 }), Type.Number({ minimum: 0 })]);

/** Workspaces (docs/architecture/workspaces.md), users' SSH keys, and the in-workspace agent's reports. */
export const workspaceRoutes: RouteModule = (app, { workspaces }) => {
  const tags = ["workspaces"];
  const { service, sshKeys, sync } = workspaces;

  app.post(
    "/api/v1/workspaces",
    {
      schema: {
        tags,
        summary: "Create a workspace and start it (a job of kind workspace running sshd)",
        body: Type.Object(
          {
            name: Type.String({ maxLength: 40 }),
            project: Type.Optional(Type.String({ maxLength: 200 })),
            resources: Type.Optional(
              Type.Object(
                {
                  cpu: Type.Optional(Type.Number()),
                  memoryMiB: Type.Optional(Type.Integer()),
                  gpus: Type.Optional(Type.Integer()),
                  gpuType: Type.Optional(Type.String({ maxLength: 40 })),
                },
                { additionalProperties: false },
              ),
            ),
            image: Type.Optional(Type.String({ maxLength: 255 })),
            idleTimeout: Type.Optional(Duration),
          },
          { additionalProperties: false },
        ),
        response: { 201: WorkspaceReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await service.create(principalOf(request), request.body)),
  );

  app.get(
    "/api/v1/workspaces",
    {
      schema: {
        tags,
        summary: "Workspaces of the caller's projects (connection details only for their owners)",
        querystring: ProjectQuery,
        response: { 200: Type.Object({ workspaces: Type.Array(WorkspaceReply) }) },
      },
    },
    async (request) => ({ workspaces: await service.list(principalOf(request), request.query.project) }),
  );

  app.get(
    "/api/v1/workspaces/:workspace",
    {
      schema: {
        tags,
        summary: "One workspace (id, or your own by name)",
        params: Params,
        querystring: ProjectQuery,
        response: { 200: WorkspaceReply },
      },
    },
    async (request) => service.show(principalOf(request), request.params.workspace, request.query.project),
  );

  app.post(
    "/api/v1/workspaces/:workspace/start",
    {
      schema: {
        tags,
        summary: "Start a stopped workspace (owner)",
        params: Params,
        querystring: ProjectQuery,
        response: { 200: WorkspaceReply },
      },
    },
    async (request) => service.start(principalOf(request), request.params.workspace, request.query.project),
  );

  app.post(
    "/api/v1/workspaces/:workspace/stop",
    {
      schema: {
        tags,
        summary: "Stop a workspace: GPUs freed, home kept (owner or admin)",
        params: Params,
        querystring: ProjectQuery,
        response: { 200: WorkspaceReply },
      },
    },
    async (request) => service.stop(principalOf(request), request.params.workspace, request.query.project),
  );

  app.delete(
    "/api/v1/workspaces/:workspace",
    {
      schema: {
        tags,
        summary: "Delete a workspace and (unless keepHome) its home (owner or admin)",
        params: Params,
        querystring: Type.Object({
          project: Type.Optional(Type.String({ maxLength: 200 })),
          keepHome: Type.Optional(Type.Boolean()),
        }),
      },
    },
    async (request, reply) => {
      await service.delete(principalOf(request), request.params.workspace, request.query);
      return reply.status(204).send();
    },
  );

  app.get(
    "/api/v1/workspaces/:workspace/connection",
    {
      schema: {
        tags,
        summary: "Where to connect, with the host key to pin (owner)",
        params: Params,
        querystring: ProjectQuery,
        response: { 200: ConnectionReply },
      },
    },
    async (request) =>
      service.connection(principalOf(request), request.params.workspace, request.query.project),
  );

  app.get(
    "/api/v1/users/me/workspace-connections",
    {
      schema: {
        tags,
        summary: "Connections of all the caller's running workspaces (mlops workspace ssh-config)",
        response: {
          200: Type.Object({
            connections: Type.Array(
              Type.Intersect([
                ConnectionReply,
                Type.Object({ name: Type.String(), projectId: Type.String() }),
              ]),
            ),
          }),
        },
      },
    },
    async (request) => ({ connections: await service.connections(principalOf(request)) }),
  );

  app.post(
    "/api/v1/workspaces/agent/report",
    {
      schema: {
        tags,
        summary: "The in-workspace agent's session count (workspace job token); answers an idle warning",
        body: Type.Object(
          { sessions: Type.Integer({ minimum: 0, maximum: 100_000 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ notice: Type.Union([Type.Null(), Type.String()]) }) },
      },
    },
    async (request) => sync.report(principalOf(request), request.body),
  );

  app.get(
    "/api/v1/projects/:project/workspace-limits",
    {
      schema: {
        tags,
        summary: "Per-project workspace limits",
        params: Type.Object({ project: Type.String() }),
        response: { 200: LimitsReply },
      },
    },
    async (request) => service.limits(principalOf(request), request.params.project),
  );

  app.put(
    "/api/v1/projects/:project/workspace-limits",
    {
      schema: {
        tags,
        summary: "Set the project's maximum workspace GPUs and lifetime (project managers, admins)",
        params: Type.Object({ project: Type.String() }),
        body: Type.Object(
          {
            maxGpus: Type.Optional(Type.Union([Type.Null(), Type.Integer({ minimum: 0 })])),
            maxLifetime: Type.Optional(Type.Union([Type.Null(), Duration])),
          },
          { additionalProperties: false },
        ),
        response: { 200: LimitsReply },
      },
    },
    async (request) => service.setLimits(principalOf(request), request.params.project, request.body),
  );

  app.get(
    "/api/v1/users/me/ssh-keys",
    {
      schema: {
        tags,
        summary: "Your SSH public keys",
        response: { 200: Type.Object({ keys: Type.Array(SshKeyReply) }) },
      },
    },
    async (request) => ({ keys: await sshKeys.list(principalOf(request)) }),
  );

  app.post(
    "/api/v1/users/me/ssh-keys",
    {
      schema: {
        tags,
        summary: "Register an SSH public key (ed25519, rsa >= 2048, ecdsa, sk-)",
        body: Type.Object(
          {
            publicKey: Type.String({ maxLength: 20_000 }),
            name: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: SshKeyReply },
      },
    },
    async (request, reply) => reply.status(201).send(await sshKeys.add(principalOf(request), request.body)),
  );

  app.delete(
    "/api/v1/users/me/ssh-keys/:key",
    {
      schema: {
        tags,
        summary: "Remove one of your SSH keys (id)",
        params: Type.Object({ key: Type.String({ maxLength: 200 }) }),
      },
    },
    async (request, reply) => {
      await sshKeys.remove(principalOf(request), request.params.key);
      return reply.status(204).send();
    },
  );
};
