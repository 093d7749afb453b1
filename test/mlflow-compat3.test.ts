import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const API = "/api/2.0/mlflow";
const PROXY = "/api/2.0/mlflow-artifacts/artifacts";

/** What an unmodified MLflow 3.x client needs beyond logged models (issue 10, part 3). */
describeEachDatabase("MLflow 3.x client compatibility", (kind) => {
  let server: TestServer;
  let experimentId: string;
  let runId: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    const exp = await server.call("POST", `${API}/experiments/create`, {
      name: "compat",
      tags: [{ key: "team", value: "vision" }],
    });
    experimentId = (exp.body as { experiment_id: string }).experiment_id;
    const run = await server.call("POST", `${API}/runs/create`, { experiment_id: experimentId });
    runId = (run.body as { run: { info: { run_id: string } } }).run.info.run_id;
    for (const [path, body] of [
      ["top.txt", "t"],
      ["subdir/a.txt", "a"],
      ["subdir/deeper/b.txt", "bb"],
    ]) {
      const put = await fetch(`${server.url}${PROXY}/${experimentId}/${runId}/artifacts/${path}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "text/plain" },
        body,
      });
      expect(put.status).toBe(200);
      await put.arrayBuffer();
    }
    for (const [name, tags] of [
      ["digits", []],
      ["chat-prompt", [{ key: "mlflow.prompt.is_prompt", value: "true" }]],
      ["not-a-prompt", [{ key: "mlflow.prompt.is_prompt", value: "false" }]],
    ] as const) {
      await server.call("POST", `${API}/registered-models/create`, { name, tags });
    }
  });
  afterAll(async () => server?.stop());

  it("answers GET /version with a 3.x version string", async () => {
    const reply = await fetch(`${server.url}/version`);
    expect(reply.status).toBe(200);
    expect(await reply.text()).toMatch(/^3\.\d+\.\d+$/);
  });

  it("answers unknown MLflow routes with ENDPOINT_NOT_FOUND so clients fall back", async () => {
    for (const [method, path] of [
      ["GET", "/api/2.0/mlflow/no-such-endpoint"],
      ["POST", "/api/3.0/mlflow/traces"],
      ["GET", "/api/3.0/mlflow/traces/tr-123"],
      ["POST", "/ajax-api/2.0/mlflow/nope/nope"],
    ]) {
      const reply = await server.call(method, path, method === "POST" ? {} : undefined);
      expect(reply, `${method} ${path}`).toMatchObject({
        status: 404,
        body: { error_code: "ENDPOINT_NOT_FOUND", message: expect.stringContaining(path) },
      });
    }
    // A known route with a missing resource keeps its own code, and anonymous callers are still refused.
    expect(await server.call("GET", `${API}/runs/get?run_id=${"0".repeat(32)}`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    expect((await server.call("GET", "/api/3.0/mlflow/traces", undefined, null)).status).toBe(401);
  });

  it("deletes experiment tags (experiments/delete-experiment-tag)", async () => {
    const del = { experiment_id: experimentId, key: "team" };
    expect(await server.call("POST", `${API}/experiments/delete-experiment-tag`, del)).toMatchObject({
      status: 200,
      body: {},
    });
    const got = await server.call("GET", `${API}/experiments/get?experiment_id=${experimentId}`);
    expect((got.body as { experiment: { tags?: unknown[] } }).experiment.tags).toBeUndefined();
    expect(await server.call("POST", `${API}/experiments/delete-experiment-tag`, del)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    expect(
      await server.call("POST", `${API}/experiments/delete-experiment-tag`, { experiment_id: experimentId }),
    ).toMatchObject({ status: 400 });
  });

  it("lists a run's subdirectory (list_artifacts(run_id, 'subdir')) on both listing routes", async () => {
    const listed = await server.call("GET", `${API}/artifacts/list?run_id=${runId}&path=subdir`);
    expect((listed.body as { files: unknown[] }).files).toEqual([
      { path: "subdir/a.txt", is_dir: false, file_size: 1 },
      { path: "subdir/deeper", is_dir: true },
    ]);
    const proxied = await server.call(
      "GET",
      `${PROXY}?path=${encodeURIComponent(`${experimentId}/${runId}/artifacts/subdir/deeper`)}`,
    );
    expect(proxied.body).toEqual({ files: [{ path: "b.txt", is_dir: false, file_size: 2 }] });
    // MLflow 3's runs:/ repository also asks for the run's logged models: none here, an empty answer.
    const models = await server.call("POST", `${API}/logged-models/search`, {
      experiment_ids: [experimentId],
      filter: `source_run_id = '${runId}'`,
    });
    expect(models).toMatchObject({ status: 200, body: { models: [] } });
  });

  it("accepts search_registered_models()'s prompt filter: backtick key, != matches untagged models", async () => {
    const filter = "tag.`mlflow.prompt.is_prompt` != 'true'";
    const models = await server.call(
      "GET",
      `${API}/registered-models/search?filter=${encodeURIComponent(filter)}&max_results=100`,
    );
    expect(models.status, JSON.stringify(models.body)).toBe(200);
    const names = (models.body as { registered_models: Array<{ name: string }> }).registered_models.map(
      (m) => m.name,
    );
    expect(names).toEqual(["digits", "not-a-prompt"]);
    const versions = await server.call(
      "GET",
      `${API}/model-versions/search?filter=${encodeURIComponent(filter)}`,
    );
    expect(versions).toMatchObject({ status: 200, body: { model_versions: [] } });
    expect(
      await server.call(
        "GET",
        `${API}/registered-models/search?filter=${encodeURIComponent("tag.`x != 'y'")}`,
      ),
    ).toMatchObject({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE" } });
  });
});
