import type { RouteModule } from "../types.js";
import { auditRoutes } from "./audit.js";
import { healthRoutes } from "./health.js";
import { identityRoutes } from "./identity.js";
import { projectRoutes } from "./projects.js";

/** Every route group of the server, in registration order. */
export const routeModules: readonly RouteModule[] = [
  healthRoutes,
  identityRoutes,
  projectRoutes,
  auditRoutes,
];
