import type { RouteModule } from "../http/types.js";
import { registerMlflowArtifactRoutes } from "./artifacts-routes.js";
import { registerMlflowCompatRoutes } from "./compat-routes.js";
import { registerMlflowExperimentRoutes } from "./experiments-routes.js";
import { registerMlflowLoggedModelRoutes } from "./logged-models-routes.js";
import { registerMlflowRunRoutes } from "./runs-routes.js";

/** MLflow's tracking REST API (logged models included), artifact proxy, `/version` and unknown-route replies. */
export const mlflowTrackingRoutes: RouteModule = async (app, platform) => {
  registerMlflowExperimentRoutes(app, platform);
  registerMlflowRunRoutes(app, platform);
  registerMlflowLoggedModelRoutes(app, platform);
  registerMlflowCompatRoutes(app);
  await registerMlflowArtifactRoutes(app, platform);
};
