import multipart from "@fastify/multipart";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { InputError } from "../../errors.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { PredictReply, routingKeyOf } from "./serving-schemas.js";

const MAX_IMAGES = 64;

/**
 * `POST /api/v1/deployments/{name}/predict`: one or more images in, labels/boxes out, each with its
 * prediction id and the model version that answered. The image may come as multipart form files, as a
 * raw `image/*` body, or as JSON `{"image": base64}` / `{"images": [base64...]}` (data: URLs accepted).
 * Registered in its own scope so that the multipart and image parsers apply to this route only.
 */
export const servingPredictRoutes: RouteModule = async (app, platform) => {
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    await scope.register(multipart, {
      limits: { fileSize: platform.config.bodyLimitBytes, files: MAX_IMAGES, fields: 8 },
    });
    scope.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: "buffer" }, (_request, body, done) =>
      done(null, body),
    );

    scope.post(
      "/api/v1/deployments/:name/predict",
      {
        schema: {
          tags: ["serving"],
          summary: "Predict on images (multipart files, raw image/* body, or JSON base64)",
          params: Type.Object({ name: Type.String() }),
          querystring: Type.Object({
            topK: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            version: Type.Optional(Type.Integer({ minimum: 1 })),
          }),
          response: { 200: PredictReply },
        },
      },
      async (request) => {
        const images = await imagesOf(request);
        const answer = await platform.serving.predictor.predictImages(
          request.params.name,
          images,
          {
            principal: principalOf(request),
            endpoint: "predict",
            routingKey: routingKeyOf(request.headers),
            version: request.query.version,
          },
          request.query.topK,
        );
        return {
          deployment: answer.deployment,
          model: answer.modelName,
          modelVersion: answer.version,
          canary: answer.canary,
          predictions: answer.predictions.map(({ predictionId, prediction }) => ({
            predictionId,
            ...prediction,
          })),
        };
      },
    );
  });
};

async function imagesOf(request: FastifyRequest): Promise<Uint8Array[]> {
  if (request.isMultipart()) {
    const images: Uint8Array[] = [];
    for await (const part of request.parts()) {
      if (part.type === "file") images.push(await part.toBuffer());
    }
    if (images.length === 0)
      throw new InputError("the multipart form has no file; send the image as a file field");
    return images;
  }
  const body = request.body;
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) throw new InputError("the image body is empty");
    return [body];
  }
  if (typeof body === "object" && body !== null) {
    const { image, images } = body as { image?: unknown; images?: unknown };
    const list = images !== undefined ? images : image !== undefined ? [image] : undefined;
    if (!Array.isArray(list) || list.length === 0) {
      throw new InputError('send {"image": "<base64>"} or {"images": ["<base64>", ...]}');
    }
    if (list.length > MAX_IMAGES) throw new InputError(`at most ${MAX_IMAGES} images per request`);
    return list.map((item, i) => decodeBase64Image(item, i));
  }
  throw new InputError("send the image as multipart/form-data, as an image/* body, or as JSON with base64");
}

function decodeBase64Image(value: unknown, index: number): Uint8Array {
  if (typeof value !== "string" || value.length === 0)
    throw new InputError(`image ${index} must be a base64 string`);
  const payload = value.startsWith("data:") ? value.slice(value.indexOf(",") + 1) : value;
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(payload.replace(/\s+/g, "")))
    throw new InputError(`image ${index} is not valid base64`);
  const bytes = Buffer.from(payload, "base64");
  if (bytes.length === 0) throw new InputError(`image ${index} is empty`);
  return bytes;
}
