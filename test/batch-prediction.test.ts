import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type BatchViewT,
  datasetOf,
  fixtureVersion,
  getBatch,
  syntheticPngs,
  waitForBatch,
} from "./batch-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * Batch prediction as a scheduler job, end to end: 2,048 dataset images through the real worker process
 * (sandboxed `node bin/mlops.js batch worker`), SIGKILLed mid-way; the job's retry resumes from the chunk
 * checkpoints and every image ends up predicted exactly once.
 */
const IMAGES = 2048;
const CHUNK = 64;

let images: Buffer[];
beforeAll(async () => {
  images = await syntheticPngs(IMAGES);
});

describeEachDatabase("batch prediction killed mid-way", (kind) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_BACKGROUND_LOOPS: "true", MLOPS_LEASE_TTL_MS: "3000" });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it("finishes after a SIGKILL of its worker with each image predicted exactly once", async () => {
    const datasetId = await datasetOf(server, "shapes", images);
    const version = await fixtureVersion(server, "shapes-clf", "tiny-classifier");
    const created = await server.call("POST", "/api/v1/batch-predictions", {
      model: "shapes-clf",
      version,
      dataset: "shapes",
      chunkSize: CHUNK,
      maxRetries: 2,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const batch = created.body as BatchViewT;
    expect(batch).toMatchObject({ total: IMAGES, chunkCount: IMAGES / CHUNK, state: "queued" });
    expect(batch.jobId).toBeTruthy();

    // Kill the worker's whole process group once a few chunks are stored, well before the end.
    const killedAt = await waitFor(
      async () => {
        const b = await server.platform.batch.service.get(adminOf(server), batch.id);
        return b.progress.chunksDone >= 3 ? b.progress.chunksDone : undefined;
      },
      60_000,
      "the first chunks",
    );
    const pid = await workerPid(server, batch.jobId as string);
    process.kill(-pid, "SIGKILL");
    expect(killedAt).toBeLessThan(batch.chunkCount);

    const done = await waitForBatch(server, batch.id, ["succeeded", "failed", "cancelled"], 90_000);
    expect(done.state, done.stateReason).toBe("succeeded");
    expect(done.progress).toMatchObject({ done: IMAGES, total: IMAGES, chunksDone: IMAGES / CHUNK });

    // Exactly once: one result row per position, one checkpoint per chunk, and the resume did the rest.
    const db = server.platform.store.db;
    const results = await db
      .selectFrom("batch_prediction_results")
      .select(["position", "item_id", "top_label"])
      .where("batch_id", "=", batch.id)
      .execute();
    expect(results).toHaveLength(IMAGES);
    expect(new Set(results.map((r) => Number(r.position))).size).toBe(IMAGES);
    expect(new Set(results.map((r) => r.item_id)).size).toBe(IMAGES);
    expect(results.every((r) => ["circle", "square", "triangle"].includes(String(r.top_label)))).toBe(true);
    const chunks = await db
      .selectFrom("batch_prediction_chunks")
      .select(["chunk_index", "attempt", "items"])
      .where("batch_id", "=", batch.id)
      .execute();
    expect(chunks).toHaveLength(IMAGES / CHUNK);
    expect(chunks.reduce((sum, c) => sum + Number(c.items), 0)).toBe(IMAGES);
    const byAttempt = new Map<number, number>();
    for (const c of chunks) byAttempt.set(Number(c.attempt), (byAttempt.get(Number(c.attempt)) ?? 0) + 1);
    expect(byAttempt.get(0)).toBeGreaterThanOrEqual(killedAt);
    expect(byAttempt.get(0)).toBeLessThan(IMAGES / CHUNK);
    expect([...byAttempt.keys()].some((attempt) => attempt > 0)).toBe(true);

    // Pre-annotations are not labels: the dataset still has no labeled item.
    const stats = (await server.call("GET", `/api/v1/datasets/${datasetId}`)).body as {
      stats: { labeled: number };
    };
    expect(stats.stats.labeled).toBe(0);

    // The Label Studio export: one task per image, each with this model's prediction.
    const exported = await fetch(
      `${server.url}/api/v1/batch-predictions/${batch.id}/export?format=label-studio`,
      {
        headers: { authorization: `Bearer ${server.adminToken}` },
      },
    );
    expect(exported.status).toBe(200);
    const tasks = (await exported.json()) as Array<{
      data: { image: string; mlops_item_id: string };
      predictions: Array<{
        model_version: string;
        score: number;
        result: Array<{ type: string; value: { choices: string[] } }>;
      }>;
    }>;
    expect(tasks).toHaveLength(IMAGES);
    // Signed, expiring image URLs: Label Studio holds no platform token.
    const signed = new RegExp(`/api/v1/signed/datasets/${datasetId}/items/(.+)/image\\?expires=\\d+&sig=.+$`);
    expect(tasks[0].data.image).toMatch(signed);
    expect(tasks[0].predictions[0].model_version).toBe(`shapes-clf:${version}`);
    expect(tasks[0].predictions[0].result[0].type).toBe("choices");
    // And the image URL in the export serves the image, without any token.
    const image = await fetch(tasks[0].data.image);
    expect(image.status).toBe(200);
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    // Tampered, moved to another item, or with a later expiry: refused alike.
    const url = new URL(tasks[0].data.image);
    const sig = url.searchParams.get("sig") as string;
    const tampered = new URL(url);
    tampered.searchParams.set("sig", `${sig.slice(0, -2)}${sig.endsWith("AA") ? "BB" : "AA"}`);
    const moved = new URL(tasks[1].data.image);
    moved.searchParams.set("sig", sig);
    moved.searchParams.set("expires", url.searchParams.get("expires") as string);
    const later = new URL(url);
    later.searchParams.set("expires", String(Number(url.searchParams.get("expires")) + 1));
    for (const bad of [tampered, moved, later]) {
      const refused = await fetch(bad);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("invalid or expired image URL");
    }

    // With a deployment's stored Label Studio /setup, the export uses its control names and data key.
    const deployed = await server.call("POST", "/api/v1/deployments", {
      name: "shapes-ls",
      model: "shapes-clf",
      version,
      environment: "dev",
    });
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
    const setup = await server.call("POST", "/integrations/label-studio/shapes-ls/setup", {
      project: "7",
      schema:
        '<View><Image name="img" value="$picture"/><Choices name="shape" toName="img"><Choice value="circle"/></Choices></View>',
    });
    expect(setup.status, JSON.stringify(setup.body)).toBe(200);
    const configured = (await (
      await fetch(`${server.url}/api/v1/batch-predictions/${batch.id}/export?format=label-studio`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      })
    ).json()) as Array<{
      data: Record<string, string>;
      predictions: Array<{ result: Array<{ from_name: string; to_name: string }> }>;
    }>;
    expect(configured[0].data.picture).toMatch(signed);
    expect(configured[0].data.image).toBeUndefined();
    expect(configured[0].predictions[0].result[0]).toMatchObject({ from_name: "shape", to_name: "img" });
    const unknown = await server.call(
      "GET",
      `/api/v1/batch-predictions/${batch.id}/export?format=label-studio&deployment=nope`,
    );
    expect(unknown.status).toBe(404);

    const shown = await getBatch(server, batch.id);
    expect(shown.progress.imagesPerSecond).toBeGreaterThan(0);
  }, 150_000);
});

function adminOf(server: TestServer) {
  return {
    userId: "system",
    userName: "system",
    role: "admin" as const,
    tokenId: "system",
    server: server.url,
  };
}

/** The host pid of the worker replica's process-group leader (a running attempt). */
async function workerPid(server: TestServer, jobId: string): Promise<number> {
  return waitFor(
    async () => {
      const got = await server.call("GET", `/api/v1/jobs/${jobId}`);
      const replicas = (
        got.body as { replicas: Array<{ pid: number | null; state: string; attempt: number }> }
      ).replicas;
      const running = replicas.filter((r) => r.pid && r.state === "running");
      return running.length > 0 ? (running[running.length - 1].pid as number) : undefined;
    },
    10_000,
    "the worker's pid",
  );
}
