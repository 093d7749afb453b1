import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Expiring, signed URLs for one dataset item's image, so that a labeling tool that holds no platform token
 * (Label Studio loading a task's `data.image`) can fetch exactly that image until the URL expires
 * (docs/architecture/data.md, "Signed image URLs"). The signature covers the dataset, the item and the
 * expiry; the key is a server secret shared by every control-plane replica.
 */
export interface ImageGrant {
  datasetId: string;
  itemId: string;
  /** Epoch seconds. */
  expires: number;
}

/** Default lifetime of a signed image URL: long enough for a labeling campaign imported from an export. */
export const SIGNED_URL_TTL_SECONDS = 7 * 24 * 3600;
const MAX_TTL_SECONDS = 90 * 24 * 3600;

export class ImageUrlSigner {
  constructor(
    private readonly key: Buffer,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  sign(
    datasetId: string,
    itemId: string,
    ttlSeconds = SIGNED_URL_TTL_SECONDS,
  ): { expires: number; sig: string } {
    const ttl = Math.min(Math.max(1, Math.floor(ttlSeconds)), MAX_TTL_SECONDS);
    const expires = this.nowSeconds() + ttl;
    return { expires, sig: this.mac({ datasetId, itemId, expires }) };
  }

  /** The path and query of a signed image URL (append to the server's public URL). */
  path(datasetId: string, itemId: string, ttlSeconds?: number): string {
    const { expires, sig } = this.sign(datasetId, itemId, ttlSeconds);
    return `/api/v1/signed/datasets/${datasetId}/items/${itemId}/image?expires=${expires}&sig=${sig}`;
  }

  /** True only for an unexpired grant whose signature matches (constant-time comparison). */
  verify(grant: ImageGrant, sig: string): boolean {
    if (!Number.isInteger(grant.expires) || grant.expires < this.nowSeconds()) return false;
    const expected = Buffer.from(this.mac(grant));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(grant: ImageGrant): string {
    return createHmac("sha256", this.key)
      .update(`item-image\n${grant.datasetId}\n${grant.itemId}\n${grant.expires}`)
      .digest("base64url");
  }
}
