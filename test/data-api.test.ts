import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { assignSplit } from "../src/data/splits.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

interface ItemResult {
  key: string;
  id: string;
  split: string;
  created: boolean;
  revisionId: number | null;
  labelStored: boolean;
}

async function png(seed: number): Promise<Buffer> {
  return sharp({
    create: {
      width: 8,
      height: 8,
      channels: 3,
      background: { r: seed % 251, g: (seed * 7) % 253, b: (seed * 13) % 255 },
    },
  })
    .png()
    .toBuffer();
}

async function upload(server: TestServer, dataset: string, bytes: Buffer, token = server.adminToken) {
  const response = await fetch(`${server.url}/api/v1/datasets/${dataset}/blobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  return { status: response.status, body: (await response.json()) as { sha256: string; size: number } };
}

async function revisionCount(server: TestServer): Promise<number> {
  const row = await server.platform.store.db
    .selectFrom("label_revisions")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describeEachDatabase("data API", (kind) => {
  let server: TestServer;
  let labeler: string;
  let viewer: string;
  const images: Buffer[] = [];
  const shas: string[] = [];
  let items: ItemResult[] = [];

  beforeAll(async () => {
    server = await startTestServer(kind);
    await server.call("POST", "/api/v1/users", { name: "lara", role: "labeler" });
    await server.call("POST", "/api/v1/users", { name: "vic", role: "viewer" });
    labeler = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "lara" })).body as { token: string }
    ).token;
    viewer = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "vic" })).body as { token: string }
    ).token;
    const created = await server.call("POST", "/api/v1/datasets", {
      name: "pets",
      task: "classification",
      classes: ["cat", "dog"],
    });
    expect(created.status).toBe(201);
    for (let i = 0; i < 60; i++) {
      images.push(await png(i));
      shas.push(createHash("sha256").update(images[i]).digest("hex"));
    }
    for (const bytes of images) expect((await upload(server, "pets", bytes)).status).toBe(200);
  });
  afterAll(async () => server?.stop());

  it("refuses dataset creation to labelers and viewers, and item uploads to labelers", async () => {
    const asLabeler = await server.call(
      "POST",
      "/api/v1/datasets",
      { name: "x", task: "classification" },
      labeler,
    );
    expect(asLabeler.status).toBe(403);
    expect(
      (await server.call("POST", "/api/v1/datasets", { name: "x", task: "classification" }, viewer)).status,
    ).toBe(403);
    expect((await upload(server, "pets", images[0], labeler)).status).toBe(403);
    expect((await server.call("GET", "/api/v1/datasets/x")).status).toBe(404);
  });

  it("adds items idempotently: the same image twice is one item, with a split fixed by its key", async () => {
    const body = {
      items: shas.map((sha256, i) => ({
        sha256,
        sourceName: `img/${i}.png`,
        label: { class: i % 2 ? "dog" : "cat" },
      })),
    };
    const first = await server.call("POST", "/api/v1/datasets/pets/items", body);
    expect(first.status).toBe(200);
    const firstBody = first.body as { items: ItemResult[]; created: number; labelsStored: number };
    expect(firstBody.created).toBe(60);
    expect(firstBody.labelsStored).toBe(60);
    items = firstBody.items;
    for (const item of items)
      expect(item.split).toBe(assignSplit(item.key, { train: 0.8, val: 0.1, holdout: 0.1 }));

    const again = (await server.call("POST", "/api/v1/datasets/pets/items", body)).body as typeof firstBody;
    expect(again.created).toBe(0);
    expect(again.labelsStored).toBe(0);
    expect(again.items.map((i) => i.id)).toEqual(items.map((i) => i.id));

    // Same content under another client key: still the one item.
    const dup = (
      await server.call("POST", "/api/v1/datasets/pets/items", { items: [{ sha256: shas[3], key: "ext-3" }] })
    ).body as typeof firstBody;
    expect(dup.items[0]).toMatchObject({ id: items[3].id, created: false });
    expect((await server.call("GET", "/api/v1/datasets/pets")).body).toMatchObject({
      stats: { items: 60, labeled: 60 },
    });
  });

  it("rejects a bad label or an unuploaded image and stores nothing of the batch", async () => {
    const before = await revisionCount(server);
    const badClass = await server.call("POST", "/api/v1/datasets/pets/items", {
      items: [
        { sha256: shas[0], label: { class: "cat" }, labelKey: "fresh-1" },
        { sha256: shas[1], label: { class: "horse" } },
      ],
    });
    expect(badClass.status).toBe(400);
    const unknown = await server.call("POST", "/api/v1/datasets/pets/items", {
      items: [{ sha256: "a".repeat(64) }],
    });
    expect(unknown.status).toBe(400);
    const badPush = await server.call("POST", "/api/v1/datasets/pets/labels", {
      labels: [
        { item: items[0].id, idempotencyKey: "ok-1", label: { class: "cat" } },
        { item: items[1].id, idempotencyKey: "bad", label: { boxes: [] } },
      ],
    });
    expect(badPush.status).toBe(400);
    expect(await revisionCount(server)).toBe(before);
  });

  it("keeps every label change as a revision; labelers push, re-sends are no-ops, delete is a tombstone", async () => {
    const item = items[5];
    const push = (key: string, label?: unknown, del?: boolean) =>
      server.call(
        "POST",
        "/api/v1/datasets/pets/labels",
        {
          labels: [
            {
              item: item.key,
              idempotencyKey: key,
              ...(label ? { label } : {}),
              ...(del ? { delete: true } : {}),
            },
          ],
        },
        labeler,
      );
    const a = await push("rev-a", { class: "cat" });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ stored: 1, duplicates: 0 });
    expect((await push("rev-a", { class: "cat" })).body).toMatchObject({ stored: 0, duplicates: 1 });
    await push("rev-b", { class: "dog" });
    await push("rev-c", undefined, true);
    const detail = (await server.call("GET", `/api/v1/datasets/pets/items/${item.id}`)).body as {
      label: unknown;
      revisions: Array<{ label: unknown; source: string; author: string }>;
    };
    expect(detail.revisions.map((r) => r.label)).toEqual([
      { class: "dog" },
      { class: "cat" },
      { class: "dog" },
      null,
    ]);
    expect(detail.revisions.slice(1).every((r) => r.author === "lara" && r.source === "api")).toBe(true);
    expect(detail.label).toBeNull();
    // A labeler may push, but not read the dataset.
    expect((await server.call("GET", "/api/v1/datasets/pets", undefined, labeler)).status).toBe(403);
    await push("rev-d", { class: "dog" });
  });

  it("snapshots are content-addressed, immutable, and keep holdout items out of train and val", async () => {
    const first = await server.call("POST", "/api/v1/datasets/pets/snapshots");
    expect(first.status).toBe(201);
    const snap = first.body as { id: string; itemCount: number; splitCounts: Record<string, number> };
    const again = await server.call("POST", "/api/v1/datasets/pets/snapshots");
    expect(again.status).toBe(200);
    expect((again.body as { id: string }).id).toBe(snap.id);

    const manifestResponse = await fetch(`${server.url}/api/v1/snapshots/${snap.id}/manifest`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    const bytes = Buffer.from(await manifestResponse.arrayBuffer());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(snap.id);
    const manifest = JSON.parse(bytes.toString("utf8")) as {
      items: Array<{ id: string; key: string; split: string; sha256: string }>;
    };
    expect(manifest.items.map((i) => i.id)).toEqual([...manifest.items.map((i) => i.id)].sort());
    expect(snap.itemCount).toBe(60);
    const holdoutKeys = new Set(items.filter((i) => i.split === "holdout").map((i) => i.key));
    expect(holdoutKeys.size).toBeGreaterThan(0);
    for (const item of manifest.items) expect(item.split === "holdout").toBe(holdoutKeys.has(item.key));
    expect(snap.splitCounts.holdout).toBe(holdoutKeys.size);

    const blob = await fetch(
      `${server.url}/api/v1/snapshots/${snap.id.slice(0, 12)}/blobs/${manifest.items[0].sha256}`,
      { headers: { authorization: `Bearer ${server.adminToken}` } },
    );
    expect(blob.status).toBe(200);
    expect(
      createHash("sha256")
        .update(Buffer.from(await blob.arrayBuffer()))
        .digest("hex"),
    ).toBe(manifest.items[0].sha256);
    const foreign = await server.call("GET", `/api/v1/snapshots/${snap.id}/blobs/${"b".repeat(64)}`);
    expect(foreign.status).toBe(404);

    // Relabel one item and label nothing else: one change; a new snapshot; the diff says what changed.
    expect(
      (await server.call("GET", `/api/v1/datasets/pets/label-changes?since=${snap.id}`)).body,
    ).toMatchObject({ count: 0 });
    await server.call("POST", "/api/v1/datasets/pets/labels", {
      labels: [{ item: items[7].id, idempotencyKey: "relabel-7", label: { class: "cat" } }],
    });
    const changes = (await server.call("GET", `/api/v1/datasets/pets/label-changes?since=${snap.id}`))
      .body as { count: number };
    expect(changes.count).toBe(1);
    const datasetId = ((await server.call("GET", "/api/v1/datasets/pets")).body as { id: string }).id;
    expect(await server.platform.data.countLabelChangesSince(datasetId, snap.id)).toBe(1);
    const second = (await server.call("POST", "/api/v1/datasets/pets/snapshots")).body as { id: string };
    expect(second.id).not.toBe(snap.id);
    const diff = (await server.call("GET", `/api/v1/snapshots/${snap.id}/diff/${second.id}`)).body as {
      added: unknown[];
      removed: unknown[];
      relabeled: Array<{ id: string }>;
    };
    expect(diff.added).toEqual([]);
    expect(diff.removed).toEqual([]);
    // items[7] was a dog (odd index): now a cat.
    expect(diff.relabeled.map((r) => r.id)).toEqual([items[7].id]);
    // The first snapshot did not change.
    const still = await fetch(`${server.url}/api/v1/snapshots/${snap.id}/manifest`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(
      createHash("sha256")
        .update(Buffer.from(await still.arrayBuffer()))
        .digest("hex"),
    ).toBe(snap.id);
  });

  it("counts label agreement per model version and deployment, in the API and on /metrics", async () => {
    const labels = [10, 11, 12, 13].map((i) => ({
      item: items[i].id,
      idempotencyKey: `agree-${i}`,
      label: { class: i === 13 ? "dog" : "cat" },
      prediction: {
        id: `pred-${i}`,
        modelVersion: "pets-model:3",
        deployment: "pets-prod",
        label: { class: "cat" },
      },
    }));
    expect((await server.call("POST", "/api/v1/datasets/pets/labels", { labels }, labeler)).status).toBe(200);
    // The labeler changes their mind on pred-12: one vote per prediction, the latest.
    await server.call(
      "POST",
      "/api/v1/datasets/pets/labels",
      {
        labels: [{ ...labels[2], idempotencyKey: "agree-12b", label: { class: "dog" } }],
      },
      labeler,
    );
    const rows = (await server.call("GET", "/api/v1/datasets/pets/agreement")).body as {
      agreement: unknown[];
    };
    expect(rows.agreement).toEqual([
      {
        modelVersion: "pets-model:3",
        deployment: "pets-prod",
        accepted: 2,
        corrected: 2,
        total: 4,
        agreement: 0.5,
      },
    ]);
    expect(await server.platform.data.agreementFor("pets-model:3")).toEqual({
      accepted: 2,
      corrected: 2,
      total: 4,
    });
    expect(await server.platform.data.agreementFor("pets-model:3", Date.now() + 60_000)).toEqual({
      accepted: 0,
      corrected: 0,
      total: 0,
    });
    const metrics = (await server.call("GET", "/metrics", undefined, null)).body as string;
    expect(metrics).toContain(
      'mlops_label_agreement_ratio{deployment="pets-prod",model_version="pets-model:3"} 0.5',
    );
    expect(metrics).toContain(
      'mlops_label_agreement_predictions{deployment="pets-prod",model_version="pets-model:3",outcome="corrected"} 2',
    );
  });
});
