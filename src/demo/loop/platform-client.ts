import { createHash } from "node:crypto";

/** What the demo (and the loop's scenario tests) say to the platform over HTTP, as an outside user would. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ItemResult {
  id: string;
  key: string;
  split: string;
  created: boolean;
  revisionId: number | null;
}

export interface NewImage {
  bytes: Buffer;
  /** Stable identity (decides the split). */
  key: string;
  sourceName: string;
  /** Label at import (null: unlabeled, labeled later through Label Studio). */
  label: string | null;
}

export class PlatformClient {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const response = await fetch(this.url + path, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok)
      throw new HttpError(response.status, `${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async uploadBlob(dataset: string, bytes: Buffer): Promise<string> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const response = await fetch(
      `${this.url}/api/v1/datasets/${encodeURIComponent(dataset)}/blobs?sha256=${sha256}`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${this.token}`, "content-type": "application/octet-stream" },
        body: bytes,
      },
    );
    if (!response.ok)
      throw new HttpError(response.status, `upload: ${response.status} ${await response.text()}`);
    return sha256;
  }

  /** Uploads the images (a few at a time) and adds them as items, labeled or not; returns them in order. */
  async importImages(
    dataset: string,
    images: NewImage[],
    onProgress?: (done: number) => void,
  ): Promise<ItemResult[]> {
    const results: ItemResult[] = [];
    for (let start = 0; start < images.length; start += 200) {
      const batch = images.slice(start, start + 200);
      const shas: string[] = new Array(batch.length);
      let next = 0;
      const worker = async () => {
        while (next < batch.length) {
          const i = next++;
          shas[i] = await this.uploadBlob(dataset, batch[i].bytes);
        }
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      const { items } = await this.call<{ items: ItemResult[] }>(
        "POST",
        `/api/v1/datasets/${encodeURIComponent(dataset)}/items`,
        {
          items: batch.map((image, i) => ({
            sha256: shas[i],
            key: image.key,
            sourceName: image.sourceName,
            ...(image.label ? { label: { class: image.label } } : {}),
          })),
        },
      );
      results.push(...items);
      onProgress?.(results.length);
    }
    return results;
  }

  /** `mlops data snapshot`: returns the snapshot id. */
  async snapshot(dataset: string): Promise<string> {
    return (
      await this.call<{ id: string }>("POST", `/api/v1/datasets/${encodeURIComponent(dataset)}/snapshots`)
    ).id;
  }

  itemImageUrl(datasetId: string, itemId: string): string {
    return `${this.url}/api/v1/datasets/${datasetId}/items/${itemId}/image`;
  }
}
