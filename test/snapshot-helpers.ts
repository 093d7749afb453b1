import { expect } from "vitest";
import type { TestServer } from "./support/server.js";

/** Helpers that make real dataset snapshots for validation records (a record needs an existing snapshot). */

export type TestLabel =
  | { class: string }
  | { boxes: Array<{ x: number; y: number; w: number; h: number; label: string }> };

async function uploadImage(
  server: TestServer,
  dataset: string,
  project: string,
  bytes: Buffer,
): Promise<string> {
  const response = await fetch(
    `${server.url}/api/v1/datasets/${dataset}/blobs?project=${encodeURIComponent(project)}`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/octet-stream" },
      body: bytes,
    },
  );
  expect(response.status).toBe(200);
  return ((await response.json()) as { sha256: string }).sha256;
}

/**
 * A dataset whose items all land in `split` (holdout by default), with the given images and labels, and its
 * snapshot. Returns the snapshot id and the items (id, key) in input order.
 */
export async function labeledSnapshot(
  server: TestServer,
  options: {
    dataset: string;
    task: "classification" | "detection";
    classes: string[];
    images: Buffer[];
    labels: TestLabel[];
    project?: string;
    split?: "train" | "val" | "holdout";
  },
): Promise<{ snapshot: string; items: Array<{ id: string; key: string }> }> {
  const project = options.project ?? "default";
  const split = options.split ?? "holdout";
  const created = await server.call("POST", "/api/v1/datasets", {
    project,
    name: options.dataset,
    task: options.task,
    classes: options.classes,
    splitFractions: {
      train: split === "train" ? 1 : 0,
      val: split === "val" ? 1 : 0,
      holdout: split === "holdout" ? 1 : 0,
    },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const shas: string[] = [];
  for (const image of options.images) shas.push(await uploadImage(server, options.dataset, project, image));
  const q = `?project=${encodeURIComponent(project)}`;
  const added = await server.call("POST", `/api/v1/datasets/${options.dataset}/items${q}`, {
    items: shas.map((sha256, i) => ({ sha256, sourceName: `img/${i}.png`, label: options.labels[i] })),
  });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  const items = (added.body as { items: Array<{ id: string; key: string }> }).items;
  const snap = await server.call("POST", `/api/v1/datasets/${options.dataset}/snapshots${q}`);
  expect([200, 201], JSON.stringify(snap.body)).toContain(snap.status);
  return { snapshot: (snap.body as { id: string }).id, items };
}

const PNG_1x1 = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
  "base64",
);

const reportSnapshots = new WeakMap<TestServer, Map<string, string>>();

/**
 * An existing snapshot of `project` for hand-reported validation records in tests about other things
 * (serving, canaries): one per server and project.
 */
export async function reportSnapshot(server: TestServer, project = "default"): Promise<string> {
  const known = reportSnapshots.get(server) ?? new Map<string, string>();
  reportSnapshots.set(server, known);
  const found = known.get(project);
  if (found) return found;
  const { snapshot } = await labeledSnapshot(server, {
    dataset: "report-holdout",
    task: "classification",
    classes: ["a"],
    images: [PNG_1x1],
    labels: [{ class: "a" }],
    project,
  });
  known.set(project, snapshot);
  return snapshot;
}
