import type { FastifyInstance, FastifyRequest } from "fastify";
import type { IdentityService } from "../auth/identity-service.js";
import type { Principal } from "../auth/principal.js";
import { UnauthenticatedError } from "../errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Reachable without a token (health, metrics, docs). */
    public?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * Bearer token (what MLflow clients send from MLFLOW_TRACKING_TOKEN), `Token` (Label Studio's scheme for
 * its ML backend and webhooks), or Basic with the token as password.
 */
export function tokenFromHeader(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(" ", 2);
  if (!value) return undefined;
  const kind = scheme.toLowerCase();
  if (kind === "bearer" || kind === "token") return value.trim();
  if (kind === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export function registerAuthHook(app: FastifyInstance, identity: IdentityService): void {
  app.addHook("onRequest", async (request) => {
    const route = request.routeOptions.url;
    // Unmatched routes fall through to the 404 handler; the interactive docs are public.
    if (request.routeOptions.config?.public || !route || route === "/docs" || route.startsWith("/docs/"))
      return;
    request.principal = await identity.authenticate(tokenFromHeader(request.headers.authorization));
  });
}

/** The authenticated caller of a non-public route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthenticatedError("authentication required");
  return request.principal;
}
