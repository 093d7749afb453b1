import { Type } from "@sinclair/typebox";
import { OutboundError } from "../../egress/outbound-client.js";
import { InputError, isDomainError } from "../../errors.js";
import { ByteBudget, ImageAllowance } from "../../serving/label-studio/byte-budget.js";
import { defaultSetup, setupFromLabelConfig } from "../../serving/label-studio/label-config.js";
import { fetchTaskImage } from "../../serving/label-studio/image-source.js";
import { deploymentRef } from "../../serving/deployments/deployment-ref.js";
import { toLabelStudioPrediction } from "../../serving/label-studio/ls-results.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { routingKeyOf } from "./serving-schemas.js";

const tags = ["Label Studio ML backend"];
const Params = Type.Object({ deployment: Type.String() });
const MAX_TASKS = 64;
/** Tasks of one request fetched and predicted at the same time. */
const TASKS_AT_ONCE = 4;
/** All image fetches of one request end by then (each one also by 10 s), so slow hosts cannot hold it long. */
const FETCH_DEADLINE_MS = 30_000;

/**
 * The Label Studio ML backend protocol, one backend per deployment: point Label Studio's "Model" setting
 * at `<server>/integrations/label-studio/<deployment>` with a labeler token (Basic auth: any user name,
 * the token as password; or a Bearer header). Predictions carry `model_version` `<model>:<version>` and
 * the prediction id in `meta.mlops_prediction_id` (top level and in every region's `meta`).
 */
export const labelStudioMlRoutes: RouteModule = (app, platform) => {
  const { predictor, deployments } = platform.serving;
  const serverBytes = new ByteBudget(
    platform.config.labelStudioMaxInflightBytes,
    "the server is busy fetching other task images; retry shortly",
  );
  const base = "/integrations/label-studio/:deployment";

  app.get(
    `${base}/health`,
    { schema: { tags, summary: "Backend health (Label Studio checks it on connect)", params: Params } },
    async (request) => {
      const d = await predictor.deploymentFor(request.params.deployment, principalOf(request));
      return {
        status: "UP",
        model_class: `mlops:${d.modelName}`,
        model_version: `${d.modelName}:${d.primaryVersion}`,
      };
    },
  );

  app.post(
    `${base}/setup`,
    {
      schema: {
        tags,
        summary: "Label Studio sends the project's label config; from_name/to_name are taken from it",
        params: Params,
        body: Type.Object(
          {
            project: Type.Optional(Type.Union([Type.String(), Type.Number()])),
            schema: Type.Optional(Type.String()),
            label_config: Type.Optional(Type.String()),
            hostname: Type.Optional(Type.String()),
            access_token: Type.Optional(Type.String()),
            model_version: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            extra_params: Type.Optional(Type.Unknown()),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const d = await predictor.deploymentFor(request.params.deployment, principal);
      const xml = request.body.schema ?? request.body.label_config;
      if (!xml) throw new InputError("setup needs the project's label config in `schema`");
      const { model } = await predictor.modelOf(deploymentRef(d), principal);
      const setup = setupFromLabelConfig(xml, model.descriptor.task, {
        project: request.body.project === undefined ? undefined : String(request.body.project),
        hostname: request.body.hostname || undefined,
      });
      await deployments.configureLabelStudio(principal, deploymentRef(d), setup);
      return { model_version: `${d.modelName}:${d.primaryVersion}` };
    },
  );

  app.post(
    `${base}/predict`,
    {
      schema: {
        tags,
        summary: "Predictions for Label Studio tasks (choices or rectanglelabels in percent)",
        params: Params,
        body: Type.Object(
          {
            tasks: Type.Array(
              Type.Object(
                {
                  id: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
                  data: Type.Record(Type.String(), Type.Unknown()),
                },
                { additionalProperties: true },
              ),
              { minItems: 1, maxItems: MAX_TASKS },
            ),
            label_config: Type.Optional(Type.String()),
            project: Type.Optional(Type.Union([Type.String(), Type.Number()])),
            params: Type.Optional(Type.Unknown()),
            model_version: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          },
          { additionalProperties: true },
        ),
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const d = await predictor.deploymentFor(request.params.deployment, principal);
      const { model } = await predictor.modelOf(deploymentRef(d), principal);
      const task = model.descriptor.task;
      const setup = request.body.label_config
        ? setupFromLabelConfig(request.body.label_config, task)
        : (d.labelStudio ?? defaultSetup(task));
      const routingKey = routingKeyOf(request.headers);
      // Per request: a total for all its images; per server: the image bytes held at once across requests.
      const requestBytes = new ByteBudget(
        platform.config.labelStudioMaxRequestBytes,
        `this request's images together exceed ${platform.config.labelStudioMaxRequestBytes} bytes; send fewer tasks per request`,
      );
      const perImage = Math.min(platform.config.bodyLimitBytes, platform.config.labelStudioMaxRequestBytes);
      const deadline = AbortSignal.timeout(FETCH_DEADLINE_MS);
      const results = await mapLimited(request.body.tasks, TASKS_AT_ONCE, async (t, i) => {
        const allowance = new ImageAllowance(perImage, requestBytes, serverBytes);
        try {
          let image: Uint8Array;
          try {
            image = await fetchTaskImage(imageRefOf(t.data, setup.dataKey, i), {
              ownUrl: platform.publicUrl,
              allowedHosts: platform.serving.imageHosts,
              labelStudioUrl: d.labelStudio?.hostname,
              projectId: d.projectId,
              authorization: request.headers.authorization,
              egress: platform.egress,
              take: (bytes) => allowance.take(bytes),
              deadline,
            });
          } catch (err) {
            // One task's image failing (refused, unreachable, too large) leaves the others to be predicted.
            if (err instanceof OutboundError)
              request.log.warn({ task: t.id, reason: err.reason }, "task image");
            else if (!isDomainError(err)) throw err;
            return taskError(err.message, `${d.modelName}:${d.primaryVersion}`);
          }
          const answer = await predictor
            .predictImages(deploymentRef(d), [image], {
              principal,
              endpoint: "label-studio",
              // Without a header, a task keeps its version while the weight holds (re-predicting is stable).
              routingKey: routingKey ?? (t.id !== undefined ? `label-studio-task:${t.id}` : undefined),
            })
            .catch((err: unknown) => {
              // An image that does not decode is that task's problem; model and server failures fail the request.
              if (err instanceof InputError)
                return taskError(err.message, `${d.modelName}:${d.primaryVersion}`);
              throw err;
            });
          if (!("predictions" in answer)) return answer;
          const [{ predictionId, prediction }] = answer.predictions;
          return toLabelStudioPrediction(prediction, setup, {
            predictionId,
            modelVersion: answer.modelVersion,
            deployment: d.name,
          });
        } finally {
          allowance.release();
        }
      });
      return { results, model_version: `${d.modelName}:${d.primaryVersion}` };
    },
  );

  app.post(
    `${base}/webhook`,
    {
      schema: {
        tags,
        summary:
          "Label Studio's ML-backend webhook (training events); labels go to the dataset webhook instead",
        params: Params,
        body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      },
    },
    async (request, reply) => {
      await predictor.deploymentFor(request.params.deployment, principalOf(request));
      const action = typeof request.body?.action === "string" ? request.body.action : "unknown";
      // Training from Label Studio is the retraining pipeline's job; annotations reach datasets through
      // /api/v1/datasets/{dataset}/label-studio/webhook. Acknowledge so Label Studio does not retry.
      return reply.status(201).send({
        status: "ignored",
        action,
        reason:
          "this backend does not train; send annotation webhooks to /api/v1/datasets/{dataset}/label-studio/webhook",
      });
    },
  );
};

function imageRefOf(data: Record<string, unknown>, key: string, index: number): string {
  const direct = data[key];
  if (typeof direct === "string" && direct) return direct;
  // A task imported without the config's key: take the first value that looks like an image reference.
  const found = Object.values(data).find(
    (v) => typeof v === "string" && (/^(https?:|data:image\/)/.test(v) || v.startsWith("/")),
  );
  if (typeof found === "string") return found;
  throw new InputError(`task ${index} has no image under data.${key}`);
}

/** A task whose image could not be used: no regions, and the reason in `meta.mlops_error`. */
function taskError(message: string, modelVersion: string) {
  return { result: [], score: 0, model_version: modelVersion, meta: { mlops_error: message } };
}

/** `fn` over `items` with at most `limit` running at once; results in input order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
