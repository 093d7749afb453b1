import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { InputError } from "../../errors.js";
import { type Platform, readiness } from "../../platform.js";
import {
  type DecodedInferRequest,
  decodeInferRequest,
  encodeInferResponse,
  splitInferBody,
} from "../../serving/oip/oip-tensors.js";
import { principalOf } from "../auth-hook.js";
import { jsonNestingExceeds, MAX_JSON_DEPTH } from "../json-depth.js";
import type { App, RouteModule } from "../types.js";
import { API_VERSION_OIP, routingKeyOf } from "./serving-schemas.js";

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
      parameters: Type.Optional(
        Type.Record(Type.String(), Type.Unknown(), {
          description:
            "binary_data_size: the tensor's bytes follow the JSON head (binary tensor data extension)",
        }),
      ),
      // Element types are checked while decoding (a schema per element would dominate the request's cost).
      data: Type.Optional(Type.Array(Type.Unknown())),
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
      parameters: Type.Optional(Type.Object({ binary_data_size: Type.Integer() })),
      data: Type.Optional(Type.Array(Type.Unknown())),
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
export const oipRoutes: RouteModule = async (app, platform) => {
  const { predictor } = platform.serving;

  app.get("/v2", { config: { public: true }, schema: { tags, summary: "Server metadata" } }, async () => ({
    name: "mlops-platform",
    version: API_VERSION_OIP,
    extensions: ["binary_tensor_data"],
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

  // Inference runs in its own scope: its bodies are read as bytes (JSON, or a JSON head plus binary
  // tensors), decoded straight into typed arrays, and its answers are serialized here, not by schemas.
  await app.register(async (scope) => registerInfer(scope, platform));
};

const INFER_SUMMARY =
  "Body: OIP JSON, or with the binary tensor data extension a JSON head of `Inference-Header-Content-Length` " +
  "bytes followed by raw little-endian tensors; binary outputs on request (`binary_data`).";

function registerInfer(scope: App, platform: Platform): void {
  const { predictor } = platform.serving;
  const checkedJson = scope.getDefaultJsonParser("error", "error");
  scope.removeContentTypeParser(["application/json", "application/octet-stream"]);
  // JSON, octet-stream (what binary clients send) and anything else: the bytes, split and parsed here.
  const bytes = (_request: unknown, body: Buffer, done: (err: Error | null, body?: Buffer) => void) =>
    done(null, body);
  scope.addContentTypeParser(["application/json", "application/octet-stream"], { parseAs: "buffer" }, bytes);
  scope.addContentTypeParser("*", { parseAs: "buffer" }, bytes);

  const decode = (request: FastifyRequest): DecodedInferRequest => {
    if (!Buffer.isBuffer(request.body) || request.body.length === 0)
      throw new InputError("the request body is empty; send an inference request");
    const split = splitInferBody(request.body, request.headers["inference-header-content-length"]);
    const head = parseJson(request, Buffer.from(split.json.buffer, split.json.byteOffset, split.json.length));
    return decodeInferRequest(head, split.binary);
  };

  const parseJson = (request: FastifyRequest, json: Buffer): unknown => {
    const text = json.toString("utf8");
    if (jsonNestingExceeds(text)) throw new InputError(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    // As the server's JSON parser: text that cannot hold a poisoning key skips the secure parser's scans.
    if (!text.includes("\\u") && !text.includes("__proto__") && !text.includes("constructor")) {
      try {
        return JSON.parse(text);
      } catch {
        // Invalid JSON: the checked parser below answers with its message.
      }
    }
    let parsed: unknown;
    let failure: Error | null = null;
    // fastify's default JSON parser calls back synchronously.
    checkedJson(request, text, (err, value) => {
      failure = err;
      parsed = value;
    });
    if (failure) throw failure;
    return parsed;
  };

  const infer = async (request: FastifyRequest, reply: FastifyReply, name: string, version?: number) => {
    const decoded = decode(request);
    const routingKey = routingKeyOf(request.headers);
    const answer = await predictor.inferTensors(
      name,
      decoded.inputs,
      { principal: principalOf(request), endpoint: "oip", routingKey, version },
      decoded.outputs,
    );
    const encoded = encodeInferResponse(
      {
        model_name: answer.deployment,
        model_version: String(answer.version),
        id: decoded.id ?? answer.predictionId,
        parameters: { prediction_id: answer.predictionId, canary: answer.canary },
      },
      answer.outputs,
      decoded.binaryOutput,
    );
    if (encoded.binary.length === 0) return reply.type("application/json").send(encoded.json);
    const head = Buffer.from(encoded.json, "utf8");
    return reply
      .header("inference-header-content-length", String(head.length))
      .type("application/octet-stream")
      .send(Buffer.concat([head, ...encoded.binary]));
  };

  // The body schema documents the request (OpenAPI); decodeInferRequest checks it, so ajv does not walk
  // every tensor element first.
  const noBodyValidation = () => () => true;

  scope.post(
    "/v2/models/:name/infer",
    {
      schema: {
        tags,
        summary: "Inference (traffic split between primary and canary)",
        description: INFER_SUMMARY,
        params: ModelParams,
        body: InferRequest,
        response: { 200: InferResponse },
      },
      validatorCompiler: noBodyValidation,
    },
    async (request, reply) => infer(request, reply, request.params.name),
  );

  scope.post(
    "/v2/models/:name/versions/:version/infer",
    {
      schema: {
        tags,
        summary: "Inference on one version (no split, no fallback)",
        description: INFER_SUMMARY,
        params: VersionParams,
        body: InferRequest,
        response: { 200: InferResponse },
      },
      validatorCompiler: noBodyValidation,
    },
    async (request, reply) =>
      infer(request, reply, request.params.name, versionNumber(request.params.version)),
  );
}
