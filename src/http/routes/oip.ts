import { Type } from "@sinclair/typebox";
import { InputError } from "../../errors.js";
import { readiness } from "../../platform.js";
import { decodeInputs } from "../../serving/oip/oip-tensors.js";
import { encodeOutputs } from "../../serving/oip/oip-tensors.js";
import { principalOf } from "../auth-hook.js";
import { API_VERSION_OIP, routingKeyOf } from "./serving-schemas.js";
import type { RouteModule } from "../types.js";

const tags = ["inference (Open Inference Protocol)"];

const TensorMeta = Type.Object({
  name: Type.String(),
  datatype: Type.String(),
  shape: Type.Array(Type.Integer()),
});
const ModelMetadata = Type.Object({
  name: Type.String(),
  versions: Type.Array(Type.String()),
  platform: Type.String(),
  inputs: Type.Array(TensorMeta),
  outputs: Type.Array(TensorMeta),
});
const ModelParams = Type.Object({ name: Type.String() });
const VersionParams = Type.Object({ name: Type.String(), version: Type.String() });
const InferRequest = Type.Object({
  id: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  inputs: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer({ minimum: 0 })),
      datatype: Type.String(),
      parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      // Element types are checked by the runner (a schema per element would dominate the request's cost).
      data: Type.Array(Type.Unknown()),
    }),
    { minItems: 1 },
  ),
  outputs: Type.Optional(
    Type.Array(
      Type.Object({
        name: Type.String(),
        parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      }),
    ),
  ),
});
const InferResponse = Type.Object({
  model_name: Type.String(),
  model_version: Type.String(),
  id: Type.String(),
  parameters: Type.Object({ prediction_id: Type.String(), canary: Type.Boolean() }),
  outputs: Type.Array(
    Type.Object({
      name: Type.String(),
      shape: Type.Array(Type.Integer()),
      datatype: Type.String(),
      data: Type.Array(Type.Unknown()),
    }),
  ),
});
const Ready = Type.Object({ name: Type.String(), ready: Type.Boolean() });

function versionNumber(raw: string): number {
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InputError(`invalid model version '${raw}': expected a positive integer`);
  return n;
}

/**
 * Open Inference Protocol V2 (KServe / Triton REST): `{name}` is a deployment. Errors come out as
 * `{"error": "..."}` (the central handler formats every `/v2/` path so). Health is public; model routes
 * need a token with `predict` on the deployment's project.
 */
export const oipRoutes: RouteModule = (app, platform) => {
  const { predictor } = platform.serving;

  app.get("/v2", { config: { public: true }, schema: { tags, summary: "Server metadata" } }, async () => ({
    name: "mlops-platform",
    version: API_VERSION_OIP,
    extensions: [],
  }));

  app.get(
    "/v2/health/live",
    { config: { public: true }, schema: { tags, summary: "Liveness" } },
    async () => ({ live: true }),
  );

  app.get(
    "/v2/health/ready",
    {
      config: { public: true },
      schema: { tags, summary: "Readiness: 200 ready, 400 not (as Triton answers)" },
    },
    async (_request, reply) => {
      const state = await readiness(platform);
      return reply.status(state.ready ? 200 : 400).send({ ready: state.ready });
    },
  );

  const metadata = async (name: string, principal: ReturnType<typeof principalOf>, version?: number) => {
    const { deployment: d, model } = await predictor.modelOf(name, principal, version);
    const versions = [d.primaryVersion, ...(d.canaryVersion !== null ? [d.canaryVersion] : [])].map(String);
    return {
      name: d.name,
      versions,
      platform: "onnxruntime",
      inputs: model.info.inputs,
      outputs: model.info.outputs,
    };
  };

  app.get(
    "/v2/models/:name",
    {
      schema: {
        tags,
        summary: "Model metadata (the primary version's tensors)",
        params: ModelParams,
        response: { 200: ModelMetadata },
      },
    },
    async (request) => metadata(request.params.name, principalOf(request)),
  );

  app.get(
    "/v2/models/:name/versions/:version",
    {
      schema: {
        tags,
        summary: "Model metadata of one version",
        params: VersionParams,
        response: { 200: ModelMetadata },
      },
    },
    async (request) =>
      metadata(request.params.name, principalOf(request), versionNumber(request.params.version)),
  );

  app.get(
    "/v2/models/:name/ready",
    {
      schema: {
        tags,
        summary: "Whether every served version is loaded: 200 ready, 400 not",
        params: ModelParams,
        response: { 200: Ready, 400: Ready },
      },
    },
    async (request, reply) => {
      const ready = await predictor.ready(request.params.name, principalOf(request));
      return reply.status(ready ? 200 : 400).send({ name: request.params.name, ready });
    },
  );

  app.get(
    "/v2/models/:name/versions/:version/ready",
    {
      schema: {
        tags,
        summary: "Whether one version is loaded",
        params: VersionParams,
        response: { 200: Ready, 400: Ready },
      },
    },
    async (request, reply) => {
      const ready = await predictor.ready(
        request.params.name,
        principalOf(request),
        versionNumber(request.params.version),
      );
      return reply.status(ready ? 200 : 400).send({ name: request.params.name, ready });
    },
  );

  const infer = async (
    name: string,
    body: {
      id?: string;
      inputs: Array<{ name: string; shape: number[]; datatype: string; data: unknown[] }>;
      outputs?: Array<{ name: string }>;
    },
    call: { principal: ReturnType<typeof principalOf>; routingKey?: string; version?: number },
  ) => {
    const inputs = decodeInputs(body);
    const answer = await predictor.inferTensors(
      name,
      inputs,
      { principal: call.principal, endpoint: "oip", routingKey: call.routingKey, version: call.version },
      body.outputs?.map((o) => o.name),
    );
    return {
      model_name: answer.deployment,
      model_version: String(answer.version),
      id: body.id ?? answer.predictionId,
      parameters: { prediction_id: answer.predictionId, canary: answer.canary },
      outputs: encodeOutputs(answer.outputs),
    };
  };

  app.post(
    "/v2/models/:name/infer",
    {
      schema: {
        tags,
        summary: "Inference (traffic split between primary and canary)",
        params: ModelParams,
        body: InferRequest,
        response: { 200: InferResponse },
      },
    },
    async (request) =>
      infer(request.params.name, request.body, {
        principal: principalOf(request),
        routingKey: routingKeyOf(request.headers),
      }),
  );

  app.post(
    "/v2/models/:name/versions/:version/infer",
    {
      schema: {
        tags,
        summary: "Inference on one version (no split, no fallback)",
        params: VersionParams,
        body: InferRequest,
        response: { 200: InferResponse },
      },
    },
    async (request) =>
      infer(request.params.name, request.body, {
        principal: principalOf(request),
        routingKey: routingKeyOf(request.headers),
        version: versionNumber(request.params.version),
      }),
  );
};
