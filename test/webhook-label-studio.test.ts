import { createHash } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const SECRET = "s3cret-webhook-value";

async function png(seed: number): Promise<Buffer> {
  return sharp({
    create: { width: 10, height: 10, channels: 3, background: { r: seed % 256, g: 40, b: (seed * 3) % 256 } },
  })
    .png()
    .toBuffer();
}

function choices(cls: string) {
  return [{ id: "r1", from_name: "choice", to_name: "image", type: "choices", value: { choices: [cls] } }];
}

function annotationEvent(opts: {
  action?: string;
  annotationId: number;
  taskId: number;
  image: string;
  result: unknown[];
  updatedAt?: string;
  prediction?: unknown;
  data?: Record<string, unknown>;
}) {
  return {
    action: opts.action ?? "ANNOTATION_CREATED",
    task: { id: opts.taskId, data: { image: opts.image, ...(opts.data ?? {}) }, meta: {}, project: 1 },
    annotation: {
      id: opts.annotationId,
      result: opts.result,
      task: opts.taskId,
      completed_by: 7,
      was_cancelled: false,
      ground_truth: false,
      created_at: "2024-05-01T10:00:00.000000Z",
      updated_at: opts.updatedAt ?? "2024-05-01T10:00:00.000000Z",
      lead_time: 3.2,
      ...(opts.prediction ? { prediction: opts.prediction } : {}),
    },
    project: { id: 1, title: "pets" },
  };
}

describeEachDatabase("Label Studio webhook receiver", (kind) => {
  let server: TestServer;
  let labeler: string;
  let viewer: string;
  const itemIds: string[] = [];

  const deliver = async (dataset: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(
      `${server.url}/api/v1/integrations/label-studio/webhook?dataset=${dataset}`,
      {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      },
    );
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const asLabeler = () => ({ authorization: `Bearer ${labeler}` });
  const revisions = async (source = "label-studio") =>
    Number(
      (
        await server.platform.store.db
          .selectFrom("label_revisions")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("source", "=", source)
          .executeTakeFirstOrThrow()
      ).n,
    );

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
    await server.call("POST", "/api/v1/datasets", {
      name: "pets",
      task: "classification",
      classes: ["cat", "dog"],
      webhookSecret: SECRET,
    });
    await server.call("POST", "/api/v1/datasets", {
      name: "boxes",
      task: "detection",
      classes: ["cat", "dog"],
    });
    for (let i = 0; i < 20; i++) {
      const bytes = await png(i);
      for (const dataset of ["pets", "boxes"]) {
        await fetch(`${server.url}/api/v1/datasets/${dataset}/blobs`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${server.adminToken}`,
            "content-type": "application/octet-stream",
          },
          body: bytes,
        });
      }
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      // Two folders hold a file named 000.png .. 009.png: matching must use the longer path.
      const sourceName = `${i < 10 ? "cats" : "dogs"}/${String(i % 10).padStart(3, "0")}.png`;
      const added = (
        await server.call("POST", "/api/v1/datasets/pets/items", { items: [{ sha256, sourceName }] })
      ).body as { items: Array<{ id: string }> };
      itemIds.push(added.items[0].id);
      await server.call("POST", "/api/v1/datasets/boxes/items", {
        items: [{ sha256, sourceName: `img-${i}.png` }],
      });
    }
  });
  afterAll(async () => server?.stop());

  it("stores a created annotation once, however often it is delivered, and an update as a new revision", async () => {
    const event = annotationEvent({
      annotationId: 101,
      taskId: 5,
      image: "/data/local-files/?d=images/dogs/003.png",
      result: choices("dog"),
    });
    const first = await deliver("pets", event, { "x-mlops-webhook-secret": SECRET });
    expect(first).toMatchObject({ status: 200, body: { status: "stored", itemId: itemIds[13] } });
    expect((await deliver("pets", event, { "x-mlops-webhook-secret": SECRET })).body).toMatchObject({
      status: "duplicate",
      revisionId: first.body.revisionId,
    });
    expect(await revisions()).toBe(1);

    // Later deliveries may carry only annotation.task: the task id was learned.
    const { task: _task, ...withoutTask } = annotationEvent({
      action: "ANNOTATION_UPDATED",
      annotationId: 101,
      taskId: 5,
      image: "",
      result: choices("cat"),
      updatedAt: "2024-05-01T11:00:00Z",
    });
    expect((await deliver("pets", withoutTask, { "x-mlops-webhook-secret": SECRET })).body).toMatchObject({
      status: "stored",
      itemId: itemIds[13],
    });
    const item = (await server.call("GET", `/api/v1/datasets/pets/items/${itemIds[13]}`)).body as {
      label: unknown;
      revisions: Array<{ author: string; sourceRef: string }>;
    };
    expect(item.label).toEqual({ class: "cat" });
    expect(item.revisions).toHaveLength(2);
    expect(item.revisions[0]).toMatchObject({
      author: "label-studio:user:7",
      sourceRef: "label-studio:annotation:101",
    });
  });

  it("maps rectanglelabels in percent to normalized boxes and links the prediction that pre-filled them", async () => {
    const predicted = [
      {
        id: "p1",
        from_name: "label",
        to_name: "image",
        type: "rectanglelabels",
        original_width: 200,
        original_height: 100,
        value: { x: 10, y: 20, width: 30, height: 40, rotation: 0, rectanglelabels: ["cat"] },
      },
    ];
    const final = [
      { ...predicted[0], id: "a1" },
      {
        id: "a2",
        from_name: "label",
        to_name: "image",
        type: "rectanglelabels",
        original_width: 200,
        original_height: 100,
        value: { x: 50, y: 50, width: 50, height: 50, rotation: 0, rectanglelabels: ["dog"] },
      },
    ];
    const event = annotationEvent({
      annotationId: 202,
      taskId: 50,
      image: "/data/upload/1/0a1b2c3d-img-4.png",
      result: final,
      prediction: {
        id: 9,
        model_version: "boxer:2",
        score: 0.8,
        result: predicted,
        meta: { mlops_prediction_id: "pred-abc", deployment: "boxer-prod" },
      },
    });
    const stored = await deliver("boxes", event, asLabeler());
    expect(stored.status).toBe(200);
    const item = (await server.call("GET", `/api/v1/datasets/boxes/items/${stored.body.itemId}`)).body as {
      item: { sourceName: string };
      label: { boxes: Array<Record<string, number | string>> };
      revisions: Array<{ prediction: Record<string, unknown>; outcome: string }>;
    };
    expect(item.item.sourceName).toBe("img-4.png");
    expect(item.label.boxes).toHaveLength(2);
    expect(item.label.boxes[0]).toMatchObject({ label: "cat" });
    expect(item.label.boxes[0].x).toBeCloseTo(0.1);
    expect(item.label.boxes[0].w).toBeCloseTo(0.3);
    expect(item.label.boxes[1]).toMatchObject({ x: 0.5, y: 0.5, w: 0.5, h: 0.5, label: "dog" });
    expect(item.revisions[0].prediction).toMatchObject({
      predictionId: "pred-abc",
      modelVersion: "boxer:2",
      deployment: "boxer-prod",
    });
    expect(item.revisions[0].outcome).toBe("corrected");
    expect(await server.platform.data.agreementFor("boxer:2")).toEqual({
      accepted: 0,
      corrected: 1,
      total: 1,
    });
  });

  it("turns ANNOTATIONS_DELETED into a tombstone, once", async () => {
    const event = annotationEvent({
      annotationId: 303,
      taskId: 60,
      image: "x",
      data: { mlops_item: itemIds[2] },
      result: choices("dog"),
    });
    expect((await deliver("pets", event, asLabeler())).body).toMatchObject({
      status: "stored",
      itemId: itemIds[2],
    });
    const deleted = { action: "ANNOTATIONS_DELETED", annotations: [{ id: 303 }], project: { id: 1 } };
    expect((await deliver("pets", deleted, asLabeler())).body).toMatchObject({
      status: "deleted",
      tombstones: 1,
    });
    expect((await deliver("pets", deleted, asLabeler())).body).toMatchObject({
      status: "deleted",
      tombstones: 0,
    });
    expect(
      ((await server.call("GET", `/api/v1/datasets/pets/items/${itemIds[2]}`)).body as { label: unknown })
        .label,
    ).toBeNull();
  });

  it("stores each label exactly once under 1,000 concurrent, overlapping deliveries", async () => {
    const before = await revisions();
    const events = Array.from({ length: 200 }, (_, i) =>
      annotationEvent({
        annotationId: 1000 + i,
        taskId: 500 + (i % 20),
        image: "y",
        data: { mlops_item: itemIds[i % 20] },
        result: choices(i % 3 ? "cat" : "dog"),
        updatedAt: `2024-06-01T00:00:${String(i % 60).padStart(2, "0")}Z`,
      }),
    );
    const deliveries = Array.from({ length: 1000 }, (_, i) => events[(i * 7) % 200]);
    const results = await Promise.all(
      deliveries.map((e) => deliver("pets", e, { "x-mlops-webhook-secret": SECRET })),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.body.status === "stored")).toHaveLength(200);
    expect(await revisions()).toBe(before + 200);
    const keys = await server.platform.store.db
      .selectFrom("label_revisions")
      .select("dedupe_key")
      .where("source", "=", "label-studio")
      .execute();
    expect(new Set(keys.map((k) => k.dedupe_key)).size).toBe(keys.length);
  });

  it("answers malformed, unknown or unauthenticated deliveries with 4xx and stores nothing", async () => {
    const before = await revisions();
    const good = annotationEvent({
      annotationId: 404,
      taskId: 70,
      image: "z",
      data: { mlops_item: itemIds[1] },
      result: choices("cat"),
    });
    const cases: Array<[unknown, Record<string, string>, number]> = [
      ["{not json", asLabeler(), 400],
      [[1, 2], asLabeler(), 400],
      [{ annotation: good.annotation }, asLabeler(), 400],
      [{ action: "PROJECT_DELETED", project: { id: 1 } }, asLabeler(), 400],
      [{ ...good, annotation: { ...good.annotation, id: undefined } }, asLabeler(), 400],
      [{ ...good, annotation: { ...good.annotation, result: "cat" } }, asLabeler(), 400],
      [{ ...good, annotation: { ...good.annotation, result: choices("horse") } }, asLabeler(), 400],
      [
        { ...good, annotation: { ...good.annotation, result: [{ type: "choices", value: {} }] } },
        asLabeler(),
        400,
      ],
      [{ ...good, annotation: { ...good.annotation, result: [] } }, asLabeler(), 422],
      [{ ...good, task: { id: 71, data: { image: "/nowhere/unknown.png" } } }, asLabeler(), 422],
      [{ action: "ANNOTATIONS_DELETED", annotations: [{}] }, asLabeler(), 400],
      [good, {}, 401],
      [good, { "x-mlops-webhook-secret": "wrong-secret-1" }, 401],
      [good, { authorization: `Bearer ${viewer}` }, 403],
    ];
    for (const [body, headers, status] of cases) {
      const response = await deliver("pets", body, headers);
      expect({ body, status: response.status }).toEqual({ body, status });
      expect(response.body).toHaveProperty("error");
    }
    expect((await deliver("nosuch", good, asLabeler())).status).toBe(404);
    expect(await revisions()).toBe(before);
    expect((await deliver("pets", good, { "x-mlops-webhook-secret": SECRET })).status).toBe(200);
    expect(await revisions()).toBe(before + 1);
  });
});
