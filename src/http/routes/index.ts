import { mlflowRegistryRoutes } from "../../mlflow/registry-routes.js";
import { mlflowTrackingRoutes } from "../../mlflow/tracking-routes.js";
import type { RouteModule } from "../types.js";
import { auditRoutes } from "./audit.js";
import { batchRoutes } from "./batch.js";
import { dataRoutes } from "./data.js";
import { dataImportRoutes } from "./data-imports.js";
import { dataSignedRoutes } from "./data-signed.js";
import { dataSnapshotRoutes } from "./data-snapshots.js";
import { healthRoutes } from "./health.js";
import { identityRoutes } from "./identity.js";
import { jobRoutes } from "./jobs.js";
import { pipelineRoutes } from "./pipelines.js";
import { labelStudioWebhookRoutes } from "./label-studio-webhooks.js";
import { labelStudioMlRoutes } from "./label-studio-ml.js";
import { oipRoutes } from "./oip.js";
import { projectRoutes } from "./projects.js";
import { registryRoutes } from "./registry.js";
import { servingRoutes } from "./serving.js";
import { servingPredictRoutes } from "./serving-predict.js";
import { trackingRoutes } from "./tracking.js";
import { uiRoutes } from "./ui.js";
import { webhookRoutes } from "./webhooks.js";
import { workspaceRoutes } from "./workspaces.js";

/** Every route group of the server, in registration order. */
export const routeModules: readonly RouteModule[] = [
  healthRoutes,
  identityRoutes,
  projectRoutes,
  auditRoutes,
  dataRoutes,
  dataImportRoutes,
  dataSignedRoutes,
  dataSnapshotRoutes,
  labelStudioWebhookRoutes,
  registryRoutes,
  jobRoutes,
  pipelineRoutes,
  webhookRoutes,
  mlflowRegistryRoutes,
  trackingRoutes,
  mlflowTrackingRoutes,
  servingRoutes,
  servingPredictRoutes,
  oipRoutes,
  labelStudioMlRoutes,
  batchRoutes,
  workspaceRoutes,
  // Last: the web UI answers every path no API route claims (src/http/routes/ui.ts).
  uiRoutes,
];
