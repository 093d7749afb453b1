import { Type } from "@sinclair/typebox";
import type { TokenInfo, User } from "../../auth/identity-store.js";
import { ROLES } from "../../auth/roles.js";
import { principalOf } from "../auth-hook.js";
import { Name } from "../schemas.js";
import type { RouteModule } from "../types.js";

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));
const UserReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  createdAt: Type.Integer(),
  disabled: Type.Boolean(),
});
const TokenReply = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  scope: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: true })]),
  createdAt: Type.Integer(),
  expiresAt: Type.Union([Type.Null(), Type.Integer()]),
  revokedAt: Type.Union([Type.Null(), Type.Integer()]),
  lastUsedAt: Type.Union([Type.Null(), Type.Integer()]),
});

const userView = (u: User) => ({ ...u });
const tokenView = (t: TokenInfo) => ({ ...t, scope: t.scope ? { ...t.scope } : null });

export const identityRoutes: RouteModule = (app, { identity }) => {
  app.get(
    "/api/v1/whoami",
    {
      schema: {
        tags: ["identity"],
        summary: "The caller",
        response: {
          200: Type.Object({
            user: UserReply,
            tokenId: Type.String(),
            scope: Type.Optional(Type.Object({}, { additionalProperties: true })),
          }),
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const user = await identity.getUser(principal.userId);
      return {
        user: userView(user),
        tokenId: principal.tokenId,
        scope: principal.scope ? { ...principal.scope } : undefined,
      };
    },
  );

  app.post(
    "/api/v1/users",
    {
      schema: {
        tags: ["identity"],
        summary: "Create a user (admin)",
        body: Type.Object({ name: Name, role: RoleSchema }, { additionalProperties: false }),
        response: { 201: UserReply },
      },
    },
    async (request, reply) =>
      reply.status(201).send(userView(await identity.createUser(principalOf(request), request.body))),
  );

  app.get(
    "/api/v1/users",
    {
      schema: {
        tags: ["identity"],
        summary: "List users (admin)",
        response: { 200: Type.Object({ users: Type.Array(UserReply) }) },
      },
    },
    async (request) => ({ users: (await identity.listUsers(principalOf(request))).map(userView) }),
  );

  app.post(
    "/api/v1/tokens",
    {
      schema: {
        tags: ["identity"],
        summary: "Create an API token (shown once)",
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 100 }),
            user: Type.Optional(Type.String()),
            expiresInSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String(), info: TokenReply }) },
      },
    },
    async (request, reply) => {
      const issued = await identity.createToken(principalOf(request), request.body);
      return reply.status(201).send({ token: issued.token, info: tokenView(issued.info) });
    },
  );

  app.get(
    "/api/v1/tokens",
    {
      schema: {
        tags: ["identity"],
        summary: "List tokens (yours; admins: ?user=NAME or ?user=*)",
        querystring: Type.Object({ user: Type.Optional(Type.String()) }),
        response: { 200: Type.Object({ tokens: Type.Array(TokenReply) }) },
      },
    },
    async (request) => ({
      tokens: (await identity.listTokens(principalOf(request), request.query.user)).map(tokenView),
    }),
  );

  app.delete(
    "/api/v1/tokens/:id",
    {
      schema: {
        tags: ["identity"],
        summary: "Revoke a token",
        params: Type.Object({ id: Type.String() }),
        response: { 200: TokenReply },
      },
    },
    async (request) => tokenView(await identity.revokeToken(principalOf(request), request.params.id)),
  );
};
