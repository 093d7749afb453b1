import { Type } from "@sinclair/typebox";
import { ForbiddenError } from "../../errors.js";
import type { RouteModule } from "../types.js";

/**
 * Item images behind expiring signed URLs (docs/architecture/data.md, "Signed image URLs"): what batch
 * exports put in Label Studio tasks, so Label Studio can load an image without a platform token. Public
 * route; the signature is the grant, and every refusal reads the same.
 */
export const dataSignedRoutes: RouteModule = (app, platform) => {
  app.get(
    "/api/v1/signed/datasets/:dataset/items/:item/image",
    {
      config: { public: true },
      schema: {
        tags: ["data"],
        summary: "An item's image by signed, expiring URL (no token; from batch exports)",
        params: Type.Object({
          dataset: Type.String({ maxLength: 64 }),
          item: Type.String({ maxLength: 64 }),
        }),
        querystring: Type.Object({
          expires: Type.Integer({ minimum: 0 }),
          sig: Type.String({ maxLength: 128 }),
        }),
      },
    },
    async (request, reply) => {
      const { dataset, item } = request.params;
      const grant = { datasetId: dataset, itemId: item, expires: request.query.expires };
      if (!platform.imageUrls.verify(grant, request.query.sig)) {
        throw new ForbiddenError("invalid or expired image URL");
      }
      const stream = await platform.data.datasets.openGrantedItemImage(dataset, item);
      return reply
        .type("application/octet-stream")
        .header("cache-control", "private, max-age=300")
        .send(stream);
    },
  );
};
