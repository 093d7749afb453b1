import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const API = "/api/2.0/mlflow";
const PROXY = "/api/2.0/mlflow-artifacts/artifacts";

interface RunJson {
  info: Record<string, unknown> & { run_id: string; experiment_id: string; artifact_uri: string };
  data: {
    metrics?: Array<{ key: string; value: number }>;
    params?: unknown[];
    tags?: Array<{ key: string; value: string }>;
  };
}

describeEachDatabase("MLflow tracking API", (kind) => {
  let server: TestServer;
  let experimentId: string;
  let run: RunJson;

  beforeAll(async () => {
    server = await startTestServer(kind);
    // Exactly what `mlflow.create_experiment("vision")` and `mlflow.start_run()` send.
    const created = await server.call("POST", `${API}/experiments/create`, { name: "vision", tags: [] });
    expect(created).toMatchObject({ status: 200 });
    experimentId = (created.body as { experiment_id: string }).experiment_id;
    const runReply = await server.call("POST", `${API}/runs/create`, {
      experiment_id: experimentId,
      user_id: "alice",
      start_time: 1_700_000_000_000,
      tags: [
        { key: "mlflow.user", value: "alice" },
        { key: "mlflow.source.name", value: "train.py" },
        { key: "mlflow.source.type", value: "LOCAL" },
      ],
      run_name: "first",
    });
    expect(runReply.status).toBe(200);
    run = (runReply.body as { run: RunJson }).run;
  });
  afterAll(async () => server?.stop());

  it("creates and reads experiments the way the client does, with experiment 0 present", async () => {
    expect(experimentId).toMatch(/^\d+$/);
    const byName = await server.call("GET", `${API}/experiments/get-by-name?experiment_name=vision`);
    expect(byName.body).toEqual({
      experiment: {
        experiment_id: experimentId,
        name: "vision",
        artifact_location: `mlflow-artifacts:/${experimentId}`,
        lifecycle_stage: "active",
        last_update_time: expect.any(Number),
        creation_time: expect.any(Number),
      },
    });
    expect((await server.call("GET", `${API}/experiments/get?experiment_id=0`)).body).toMatchObject({
      experiment: { experiment_id: "0", name: "Default" },
    });
    expect(await server.call("POST", `${API}/experiments/create`, { name: "vision" })).toMatchObject({
      status: 400,
      body: { error_code: "RESOURCE_ALREADY_EXISTS" },
    });
    expect(await server.call("GET", `${API}/experiments/get?experiment_id=987654`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    expect(await server.call("GET", `${API}/experiments/get-by-name?experiment_name=nope`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    const search = (
      await server.call("POST", `${API}/experiments/search`, {
        max_results: 1000,
        filter: "name LIKE 'vis%'",
      })
    ).body as {
      experiments: Array<{ name: string }>;
    };
    expect(search.experiments.map((e) => e.name)).toEqual(["vision"]);
  });

  it("returns the run in MLflow's shape with the proxy artifact URI", async () => {
    expect(run.info).toEqual({
      run_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      run_uuid: run.info.run_id,
      run_name: "first",
      experiment_id: experimentId,
      user_id: "admin",
      status: "RUNNING",
      start_time: 1_700_000_000_000,
      artifact_uri: `mlflow-artifacts:/${experimentId}/${run.info.run_id}/artifacts`,
      lifecycle_stage: "active",
    });
    const fetched = (await server.call("GET", `${API}/runs/get?run_id=${run.info.run_id}`)).body as {
      run: RunJson;
    };
    expect(fetched.run.info).toEqual(run.info);
    expect(fetched.run.data.tags).toEqual(
      expect.arrayContaining([
        { key: "mlflow.runName", value: "first" },
        { key: "mlflow.source.name", value: "train.py" },
      ]),
    );
    expect(fetched.run).toHaveProperty("inputs", {});
    expect(await server.call("GET", `${API}/runs/get?run_id=${"0".repeat(32)}`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
  });

  it("logs 1,000 metrics in one batch and reads them back in step order", async () => {
    const runId = run.info.run_id;
    const metrics = Array.from({ length: 1000 }, (_, i) => ({
      key: "loss",
      value: 1 / (1000 - i),
      timestamp: 1_700_000_000_000 + i,
      step: 999 - i,
    }));
    const batch = await server.call("POST", `${API}/runs/log-batch`, {
      run_id: runId,
      metrics,
      params: [],
      tags: [],
    });
    expect(batch, JSON.stringify(batch.body)).toMatchObject({ status: 200, body: {} });
    // MLflow's limit counts metrics, params and tags together.
    expect(
      await server.call("POST", `${API}/runs/log-batch`, {
        run_id: runId,
        metrics,
        params: [{ key: "lr", value: "0.01" }],
      }),
    ).toMatchObject({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE" } });
    const small = {
      run_id: runId,
      params: [{ key: "lr", value: "0.01" }],
      tags: [{ key: "team", value: "vision" }],
    };
    expect((await server.call("POST", `${API}/runs/log-batch`, small)).status).toBe(200);
    const history = await server.call("GET", `${API}/metrics/get-history?run_id=${runId}&metric_key=loss`);
    const points = (
      history.body as { metrics: Array<{ key: string; value: number; step: number; timestamp: number }> }
    ).metrics;
    expect(points).toHaveLength(1000);
    expect(points.map((p) => p.step)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(points[0]).toEqual({ key: "loss", value: 1, timestamp: 1_700_000_000_999, step: 0 });
    const paged = (
      await server.call("GET", `${API}/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=600`)
    ).body as {
      metrics: unknown[];
      next_page_token: string;
    };
    expect(paged.metrics).toHaveLength(600);
    const rest = (
      await server.call(
        "GET",
        `${API}/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=600&page_token=${encodeURIComponent(paged.next_page_token)}`,
      )
    ).body as { metrics: Array<{ step: number }>; next_page_token?: string };
    expect(rest.metrics.map((p) => p.step)[0]).toBe(600);
    expect(rest.next_page_token).toBeUndefined();
    // The single-value endpoints the client uses for log_metric / log_param / set_tag.
    expect(
      (
        await server.call("POST", `${API}/runs/log-metric`, {
          run_id: runId,
          run_uuid: runId,
          key: "acc",
          value: 0.95,
          timestamp: 1,
          step: 3,
        })
      ).status,
    ).toBe(200);
    expect(
      (await server.call("POST", `${API}/runs/log-parameter`, { run_id: runId, key: "epochs", value: "10" }))
        .status,
    ).toBe(200);
    expect(
      (await server.call("POST", `${API}/runs/set-tag`, { run_id: runId, key: "stage", value: "dev" }))
        .status,
    ).toBe(200);
    expect(
      (await server.call("POST", `${API}/runs/delete-tag`, { run_id: runId, key: "stage" })).status,
    ).toBe(200);
    expect(
      await server.call("POST", `${API}/runs/delete-tag`, { run_id: runId, key: "stage" }),
    ).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    const data = ((await server.call("GET", `${API}/runs/get?run_id=${runId}`)).body as { run: RunJson }).run
      .data;
    expect(data.metrics).toEqual(
      expect.arrayContaining([
        // The latest value is the one at the greatest step, whatever the order it was logged in.
        { key: "loss", value: 0.001, timestamp: 1_700_000_000_000, step: 999 },
        { key: "acc", value: 0.95, timestamp: 1, step: 3 },
      ]),
    );
    expect(data.params).toEqual(
      expect.arrayContaining([
        { key: "lr", value: "0.01" },
        { key: "epochs", value: "10" },
      ]),
    );
    expect(data.tags?.find((t) => t.key === "stage")).toBeUndefined();
  });

  it("refuses a changed param with INVALID_PARAMETER_VALUE and keeps the rest of that batch out", async () => {
    const runId = run.info.run_id;
    expect(
      (await server.call("POST", `${API}/runs/log-parameter`, { run_id: runId, key: "lr", value: "0.01" }))
        .status,
    ).toBe(200);
    const refused = await server.call("POST", `${API}/runs/log-batch`, {
      run_id: runId,
      metrics: [{ key: "never", value: 1, timestamp: 1, step: 0 }],
      params: [{ key: "lr", value: "0.02" }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      error_code: "INVALID_PARAMETER_VALUE",
      message: expect.stringContaining("lr"),
    });
    const history = await server.call("GET", `${API}/metrics/get-history?run_id=${runId}&metric_key=never`);
    expect(history.body).toEqual({});
  });

  it("refuses oversized batches, long values and wrong types with 400 and changes nothing", async () => {
    const runId = run.info.run_id;
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ key: "m", value: i, timestamp: 1, step: i }));
    const cases: unknown[] = [
      { run_id: runId, metrics: tooMany },
      { run_id: runId, params: Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: "v" })) },
      { run_id: runId, params: [{ key: "big", value: "x".repeat(6001) }] },
      { run_id: runId, metrics: [{ key: "m", value: "not-a-number", timestamp: 1, step: 0 }] },
      { run_id: runId, metrics: [{ key: "m", value: 1, timestamp: "yesterday", step: 0 }] },
      { run_id: runId, metrics: [{ key: "../m", value: 1, timestamp: 1, step: 0 }] },
      { run_id: runId, metrics: "all of them" },
      { run_id: runId, params: [{ key: "p", value: { nested: true } }] },
      { run_id: { id: runId } },
    ];
    for (const body of cases) {
      const reply = await server.call("POST", `${API}/runs/log-batch`, body);
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(reply.body).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE" });
    }
    expect((await server.call("POST", `${API}/runs/log-batch`, "{not json")).status).toBe(400);
    const data = ((await server.call("GET", `${API}/runs/get?run_id=${runId}`)).body as { run: RunJson }).run
      .data;
    expect(data.metrics?.find((m) => m.key === "m")).toBeUndefined();
    expect(JSON.stringify(data.params)).not.toContain("big");
    expect(
      await server.call("POST", `${API}/runs/log-batch`, { run_id: "f".repeat(32), metrics: [] }),
    ).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
  });

  it("searches runs with filters, order_by and page tokens", async () => {
    const exp = (
      (await server.call("POST", `${API}/experiments/create`, { name: "sweep" })).body as {
        experiment_id: string;
      }
    ).experiment_id;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const created = (
        await server.call("POST", `${API}/runs/create`, {
          experiment_id: exp,
          start_time: 1_000 + i,
          run_name: `r${i}`,
        })
      ).body as { run: RunJson };
      const runId = created.run.info.run_id;
      ids.push(runId);
      await server.call("POST", `${API}/runs/log-batch`, {
        run_id: runId,
        metrics: [{ key: "acc", value: 0.85 + i * 0.02, timestamp: 5, step: 1 }],
        params: [{ key: "lr", value: i % 2 === 0 ? "0.01" : "0.1" }],
      });
    }
    // acc: 0.85 0.87 0.89 0.91 0.93 0.95; lr 0.01 for even i -> runs 4 (0.93) and 2? (0.89 fails) -> only r4
    const search = async (body: Record<string, unknown>) =>
      (await server.call("POST", `${API}/runs/search`, { experiment_ids: [exp], ...body })).body as {
        runs?: RunJson[];
        next_page_token?: string;
      };
    const filtered = await search({ filter: "metrics.acc > 0.9 and params.lr = '0.01'" });
    expect(filtered.runs?.map((r) => r.info.run_name)).toEqual(["r4"]);
    const ordered = await search({ filter: "metrics.acc > 0.9", order_by: ["metrics.acc DESC"] });
    expect(ordered.runs?.map((r) => r.info.run_name)).toEqual(["r5", "r4", "r3"]);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await search({
        max_results: 4,
        order_by: ["attributes.start_time ASC"],
        ...(token ? { page_token: token } : {}),
      });
      seen.push(...(page.runs ?? []).map((r) => r.info.run_name as string));
      token = page.next_page_token;
    } while (token);
    expect(seen).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    expect(await search({ filter: "metrics.acc >" })).toMatchObject({});
    expect(
      (await server.call("POST", `${API}/runs/search`, { experiment_ids: [exp], filter: "metrics.acc >" }))
        .status,
    ).toBe(400);
    expect(
      (await server.call("POST", `${API}/runs/search`, { experiment_ids: [exp], max_results: 50001 })).status,
    ).toBe(400);
    expect(await search({ filter: "params.lr = 'nope'" })).toEqual({});
    // Deleted runs leave active searches and come back with run_view_type.
    expect((await server.call("POST", `${API}/runs/delete`, { run_id: ids[5] })).status).toBe(200);
    expect((await search({})).runs).toHaveLength(5);
    expect((await search({ run_view_type: "DELETED_ONLY" })).runs?.map((r) => r.info.run_id)).toEqual([
      ids[5],
    ]);
    expect(
      await server.call("POST", `${API}/runs/log-metric`, {
        run_id: ids[5],
        key: "x",
        value: 1,
        timestamp: 1,
      }),
    ).toMatchObject({
      status: 400,
      body: { error_code: "INVALID_PARAMETER_VALUE" },
    });
    expect((await server.call("POST", `${API}/runs/restore`, { run_id: ids[5] })).status).toBe(200);
    const finished = await server.call("POST", `${API}/runs/update`, {
      run_id: ids[5],
      status: "FINISHED",
      end_time: 2_000,
    });
    expect(finished.body).toMatchObject({
      run_info: { status: "FINISHED", end_time: 2_000, lifecycle_stage: "active" },
    });
  });

  it("uploads, lists and downloads artifacts through the proxy, byte for byte", async () => {
    const root = `${experimentId}/${run.info.run_id}/artifacts`;
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) % 256));
    const auth = { authorization: `Bearer ${server.adminToken}` };
    const put = await fetch(`${server.url}${PROXY}/${root}/model/weights.bin`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/octet-stream" },
      body: bytes,
    });
    expect(put.status).toBe(200);
    // The client sends a guessed MIME type; a JSON file must be stored, not parsed.
    const json = await fetch(`${server.url}${PROXY}/${root}/model/model.json`, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: '{"task": "classification"',
    });
    expect(json.status).toBe(200);
    const download = await fetch(`${server.url}${PROXY}/${root}/model/weights.bin`, { headers: auth });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);
    const listed = await server.call("GET", `${PROXY}?path=${encodeURIComponent(`${root}/model`)}`);
    expect(listed.body).toEqual({
      files: [
        { path: "model.json", is_dir: false, file_size: 25 },
        { path: "weights.bin", is_dir: false, file_size: 70_000 },
      ],
    });
    expect((await server.call("GET", `${PROXY}?path=${encodeURIComponent(root)}`)).body).toEqual({
      files: [{ path: "model", is_dir: true }],
    });
    const list = await server.call("GET", `${API}/artifacts/list?run_id=${run.info.run_id}&path=model`);
    expect(list.body).toEqual({
      root_uri: run.info.artifact_uri,
      files: [
        { path: "model/model.json", is_dir: false, file_size: 25 },
        { path: "model/weights.bin", is_dir: false, file_size: 70_000 },
      ],
    });
    expect((await fetch(`${server.url}${PROXY}/${root}/missing.bin`, { headers: auth })).status).toBe(404);
  });

  it("refuses traversal and paths outside a run with 400 and stores nothing", async () => {
    const root = `${experimentId}/${run.info.run_id}/artifacts`;
    const auth = { authorization: `Bearer ${server.adminToken}` };
    const before = (await server.call("GET", `${API}/artifacts/list?run_id=${run.info.run_id}`)).body;
    for (const path of [
      `${root}/%2e%2e/%2e%2e/evil.txt`,
      `${root}/a/%2e%2e/%2e%2e/%2e%2e/x`,
      "%2Fetc/passwd",
      `${root}/%252e%252e/x`,
      "1/notarun/artifacts/x",
    ]) {
      const reply = await fetch(`${server.url}${PROXY}/${path}`, {
        method: "PUT",
        headers: auth,
        body: "evil",
      });
      expect(reply.status, path).toBe(400);
      expect(((await reply.json()) as { error_code: string }).error_code).toBe("INVALID_PARAMETER_VALUE");
    }
    expect((await server.call("GET", `${API}/artifacts/list?run_id=${run.info.run_id}`)).body).toEqual(
      before,
    );
  });

  it("lets a workload token write only to its own run", async () => {
    const admin = await server.platform.identity.getUser("admin");
    const other = (
      (await server.call("POST", `${API}/runs/create`, { experiment_id: experimentId })).body as {
        run: RunJson;
      }
    ).run;
    const { token } = await server.platform.identity.issueWorkloadToken(
      admin.id,
      { runId: run.info.run_id },
      600,
    );
    expect(
      (
        await server.call(
          "POST",
          `${API}/runs/log-batch`,
          { run_id: run.info.run_id, metrics: [{ key: "w", value: 1, timestamp: 1 }] },
          token,
        )
      ).status,
    ).toBe(200);
    const denied = await server.call(
      "POST",
      `${API}/runs/log-batch`,
      {
        run_id: other.info.run_id,
        metrics: [{ key: "w", value: 1, timestamp: 1 }],
        params: [{ key: "p", value: "1" }],
      },
      token,
    );
    expect(denied).toMatchObject({ status: 403, body: { error_code: "PERMISSION_DENIED" } });
    const upload = await fetch(`${server.url}${PROXY}/${experimentId}/${other.info.run_id}/artifacts/x.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: "nope",
    });
    expect(upload.status).toBe(403);
    const untouched = (
      (await server.call("GET", `${API}/runs/get?run_id=${other.info.run_id}`)).body as { run: RunJson }
    ).run;
    expect(untouched.data.metrics).toBeUndefined();
    expect(untouched.data.params).toBeUndefined();
    expect((await server.call("GET", `${API}/artifacts/list?run_id=${other.info.run_id}`)).body).toEqual({
      root_uri: other.info.artifact_uri,
    });
  });

  it("answers on the ajax-api prefix too", async () => {
    expect((await server.call("GET", `/ajax-api/2.0/mlflow/runs/get?run_id=${run.info.run_id}`)).status).toBe(
      200,
    );
  });
});
