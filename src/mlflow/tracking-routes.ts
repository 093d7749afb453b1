import type { RouteModule } from "../http/types.js";
import { registerMlflowArtifactRoutes } from "./artifacts-routes.js";
import { registerMlflowExperimentRoutes } from "./experiments-routes.js";
import { registerMlflowRunRoutes } from "./runs-routes.js";

/** MLflow's tracking REST API and artifact proxy. */
export const mlflowTrackingRoutes: RouteModule = async (app, platform) => {
  registerMlflowExperimentRoutes(app, platform);
  registerMlflowRunRoutes(app, platform);
  await registerMlflowArtifactRoutes(app, platform);
};
