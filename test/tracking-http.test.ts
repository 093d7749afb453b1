import { createHash } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

interface NativeRun {
  id: string;
  experimentId: string;
  lineage: Record<string, string>;
  params: Record<string, string>;
  metrics: Record<string, { value: number; step: number }>;
}

describeEachDatabase("native tracking API", (kind) => {
  let server: TestServer;
  let experimentId: string;
  let runA: NativeRun;
  let runB: NativeRun;
  let viewerToken: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    await server.call("POST", "/api/v1/users", { name: "vic", role: "viewer" });
    viewerToken = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "vic" })).body as { token: string }
    ).token;
    const exp = await server.call("POST", "/api/v1/experiments", { name: "cls" });
    expect(exp.status).toBe(201);
    experimentId = (exp.body as { id: string }).id;
    const create = (lr: string) =>
      server.call("POST", "/api/v1/runs", {
        experimentId,
        name: `lr-${lr}`,
        lineage: { datasetSnapshot: "snap-1", codeRef: "git:abc123", baseModelVersion: "resnet:3" },
      });
    runA = (await create("a")).body as NativeRun;
    runB = (await create("b")).body as NativeRun;
  });
  afterAll(async () => server?.stop());

  it("records lineage and logs through the native API, and compares runs", async () => {
    expect(runA.lineage).toEqual({
      datasetSnapshot: "snap-1",
      codeRef: "git:abc123",
      baseModelVersion: "resnet:3",
    });
    for (const [run, lr, acc] of [
      [runA, "0.01", 0.91],
      [runB, "0.1", 0.87],
    ] as const) {
      const logged = await server.call("POST", `/api/v1/runs/${run.id}/log`, {
        params: [{ key: "lr", value: lr }],
        metrics: [
          { key: "acc", value: acc - 0.1, step: 0 },
          { key: "acc", value: acc, step: 1 },
        ],
      });
      expect(logged.status).toBe(204);
    }
    const fetched = (await server.call("GET", `/api/v1/runs/${runA.id}`)).body as NativeRun;
    expect(fetched.params).toEqual({ lr: "0.01" });
    expect(fetched.metrics.acc).toMatchObject({ value: 0.91, step: 1 });
    const table = await server.call(
      "GET",
      `/api/v1/runs/compare?runIds=${runA.id},${runB.id}&metrics=acc&params=lr,missing`,
    );
    expect(table.body).toMatchObject({
      params: ["lr", "missing"],
      metrics: ["acc"],
      runs: [
        { runId: runA.id, params: { lr: "0.01", missing: null }, metrics: { acc: 0.91 } },
        { runId: runB.id, params: { lr: "0.1", missing: null }, metrics: { acc: 0.87 } },
      ],
    });
    const search = await server.call(
      "GET",
      `/api/v1/runs?experimentId=${experimentId}&filter=${encodeURIComponent("metrics.acc > 0.9")}`,
    );
    expect((search.body as { runs: NativeRun[] }).runs.map((r) => r.id)).toEqual([runA.id]);
  });

  it("lets a viewer read but not write", async () => {
    expect((await server.call("GET", `/api/v1/runs/${runA.id}`, undefined, viewerToken)).status).toBe(200);
    const denied = await server.call(
      "POST",
      `/api/v1/runs/${runA.id}/log`,
      { params: [{ key: "x", value: "1" }] },
      viewerToken,
    );
    expect(denied).toMatchObject({ status: 403, body: { error: { code: "PERMISSION_DENIED" } } });
    expect(((await server.call("GET", `/api/v1/runs/${runA.id}`)).body as NativeRun).params).toEqual({
      lr: "0.01",
    });
  });

  it("streams artifacts in and out, verifying a declared hash", async () => {
    const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 13) % 251));
    const auth = { authorization: `Bearer ${server.adminToken}` };
    const sha = createHash("sha256").update(bytes).digest("hex");
    const put = await fetch(`${server.url}/api/v1/runs/${runA.id}/artifacts/model/model.onnx`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/octet-stream", "x-content-sha256": sha },
      body: bytes,
    });
    expect(put.status).toBe(201);
    expect(await put.json()).toMatchObject({ path: "model/model.onnx", sha256: sha, size: 300_000 });
    const wrong = await fetch(`${server.url}/api/v1/runs/${runA.id}/artifacts/model/other.onnx`, {
      method: "PUT",
      headers: { ...auth, "x-content-sha256": "0".repeat(64) },
      body: bytes,
    });
    expect(wrong.status).toBe(400);
    const listed = await server.call("GET", `/api/v1/runs/${runA.id}/artifacts?path=model`);
    expect(listed.body).toEqual({
      entries: [{ path: "model/model.onnx", isDir: false, size: 300_000, sha256: sha }],
    });
    const got = await fetch(`${server.url}/api/v1/runs/${runA.id}/artifacts/model/model.onnx`, {
      headers: auth,
    });
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    // The registry's lookup: a run and its files.
    expect((await server.platform.runArtifacts.allFiles(runA.id)).map((f) => f.path)).toEqual([
      "model/model.onnx",
    ]);
    expect((await server.platform.tracking.lookupRun(runA.id))?.info.experimentId).toBe(experimentId);
  });

  it("downsamples a 1,000,000-point metric on the server by sampling, without scanning it", async () => {
    const runId = runB.id;
    const db = server.platform.store.db;
    if (kind === "postgres") {
      await sql`INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
        SELECT ${runId}, 'loss', g, 1700000000000 + g, 1.0 / (1 + g / 1000.0), 0 FROM generate_series(0, 999999) AS g`.execute(
        db,
      );
      await sql`INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
        SELECT ${runId}, 'lr', g, 1700000000000 + g, g, 0 FROM generate_series(0, 19999) AS g`.execute(db);
      await sql`VACUUM ANALYZE metrics`.execute(db); // what autovacuum does after a bulk load
    } else {
      await sql`WITH RECURSIVE c(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM c WHERE g < 999999)
        INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
        SELECT ${runId}, 'loss', g, 1700000000000 + g, 1.0 / (1 + g / 1000.0), 0 FROM c`.execute(db);
      await sql`WITH RECURSIVE c(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM c WHERE g < 19999)
        INSERT INTO metrics (run_id, key, step, timestamp, value, is_nan)
        SELECT ${runId}, 'lr', g, 1700000000000 + g, g, 0 FROM c`.execute(db);
    }
    const started = performance.now();
    const reply = await server.call("GET", `/api/v1/runs/${runId}/metrics/loss?maxPoints=500`);
    const elapsed = performance.now() - started;
    const history = reply.body as {
      mode: string;
      covered: number;
      points: Array<{ step: number; min: number; max: number; value: number }>;
    };
    expect(reply.status).toBe(200);
    expect(history.mode).toBe("sampled");
    expect(history.points.length).toBeLessThanOrEqual(500);
    expect(history.points.length).toBeGreaterThanOrEqual(450);
    expect(history.points[0].step).toBe(0);
    expect(history.points.at(-1)!.step).toBeGreaterThan(990_000);
    expect(history.points[0].max).toBe(1);
    expect(elapsed).toBeLessThan(3000); // loose: tests share 2 cores; `npm run bench` measures
    // A shorter series is aggregated exactly: every point is in a bucket.
    const exact = (await server.call("GET", `/api/v1/runs/${runId}/metrics/lr?maxPoints=100`)).body as {
      mode: string;
      covered: number;
      points: Array<{ min: number; max: number }>;
    };
    expect(exact).toMatchObject({ mode: "buckets", covered: 20_000 });
    expect(exact.points).toHaveLength(100);
    expect(exact.points[0]).toMatchObject({ min: 0, max: 199 });
    const raw = (await server.call("GET", `/api/v1/runs/${runA.id}/metrics/acc?maxPoints=10`)).body;
    expect(raw).toMatchObject({ mode: "raw", covered: 2 });
    expect((await server.call("GET", `/api/v1/runs/${runId}/metrics/loss?maxPoints=1`)).status).toBe(400);
  }, 120_000);
});
