import type { PlatformClient } from "../src/demo/loop/platform-client.js";

/** Pushes labels on items through the label API (as a labeling tool would), idempotently keyed by `tag`. */
export async function pushLabels(
  client: PlatformClient,
  dataset: string,
  items: Array<{ id: string; label: string }>,
  tag: string,
): Promise<void> {
  await client.call("POST", `/api/v1/datasets/${dataset}/labels`, {
    labels: items.map((item, i) => ({
      item: item.id,
      idempotencyKey: `${tag}-${i}`,
      label: { class: item.label },
    })),
  });
}
