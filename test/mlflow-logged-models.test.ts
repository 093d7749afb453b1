import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureFiles, tokenFor } from "./registry-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const API = "/api/2.0/mlflow";
const PROXY = "/api/2.0/mlflow-artifacts/artifacts";

interface LoggedModelJson {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    artifact_uri: string;
    status: string;
    source_run_id?: string;
    model_type?: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    tags?: Array<{ key: string; value: string }>;
  };
  data: { params?: Array<{ key: string; value: string }> };
}

/**
 * MLflow 3 logged models, replaying the JSON the 3.x client sends for `mlflow.<flavor>.log_model`,
 * `search_logged_models`, `set_logged_model_tags`, `finalize_logged_model` and `register_model`
 * (request bodies per mlflow/protos/service.proto: CreateLoggedModel, FinalizeLoggedModel, ...).
 */
describeEachDatabase("MLflow 3 logged models", (kind) => {
  let server: TestServer;
  let experimentId: string;
  let runId: string;
  let model: LoggedModelJson;

  const put = async (path: string, bytes: Buffer | string, token = server.adminToken) => {
    const response = await fetch(`${server.url}${PROXY}/${path}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
    await response.arrayBuffer();
    return response;
  };
  const root = (m: LoggedModelJson) => `${m.info.experiment_id}/models/${m.info.model_id}/artifacts`;

  /** What log_model does: create, upload the files, finalize, link the run's outputs. */
  async function logModel(name: string, files: Record<string, Buffer | string>): Promise<LoggedModelJson> {
    const created = await server.call("POST", `${API}/logged-models`, {
      experiment_id: experimentId,
      name,
      source_run_id: runId,
      params: [{ key: "lr", value: "0.01" }],
      tags: [{ key: "mlflow.source.name", value: "train.py" }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const m = (created.body as { model: LoggedModelJson }).model;
    for (const [path, bytes] of Object.entries(files)) {
      expect((await put(`${root(m)}/${path}`, bytes)).status).toBe(200);
    }
    const finalized = await server.call("PATCH", `${API}/logged-models/${m.info.model_id}`, {
      model_id: m.info.model_id,
      status: "LOGGED_MODEL_READY",
    });
    expect(finalized.status).toBe(200);
    expect(
      await server.call("POST", `${API}/runs/outputs`, {
        run_id: runId,
        models: [{ model_id: m.info.model_id, step: 0 }],
      }),
    ).toMatchObject({ status: 200, body: {} });
    return (finalized.body as { model: LoggedModelJson }).model;
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    const exp = await server.call("POST", `${API}/experiments/create`, { name: "digits" });
    experimentId = (exp.body as { experiment_id: string }).experiment_id;
    const run = await server.call("POST", `${API}/runs/create`, {
      experiment_id: experimentId,
      start_time: Date.now(),
      tags: [{ key: "mlflow.user", value: "alice" }],
    });
    runId = (run.body as { run: { info: { run_id: string } } }).run.info.run_id;
    const { onnx, json } = fixtureFiles();
    model = await logModel("model", {
      MLmodel: "artifact_path: model\nflavors: {}\n",
      "model.onnx": onnx,
      "model.json": json,
      "data/weights.bin": Buffer.from([1, 2, 3]),
    });
  });
  afterAll(async () => {
    // Sockets Node does not count as idle would hold close() for Fastify's 72 s keep-alive timeout.
    server?.app.server.closeAllConnections();
    await server?.stop();
  });

  it("creates a model the way log_model does: m-<hex> id, pending, artifact URI, params and tags", async () => {
    expect(model.info).toMatchObject({
      experiment_id: experimentId,
      name: "model",
      source_run_id: runId,
      status: "LOGGED_MODEL_READY",
      artifact_uri: `mlflow-artifacts:/${experimentId}/models/${model.info.model_id}/artifacts`,
      tags: [{ key: "mlflow.source.name", value: "train.py" }],
    });
    expect(model.info.model_id).toMatch(/^m-[0-9a-f]{32}$/);
    expect(model.data.params).toEqual([{ key: "lr", value: "0.01" }]);
    const fresh = await server.call("POST", `${API}/logged-models`, { experiment_id: experimentId });
    expect((fresh.body as { model: LoggedModelJson }).model.info).toMatchObject({
      status: "LOGGED_MODEL_PENDING",
      name: expect.any(String),
    });
    const got = await server.call("GET", `${API}/logged-models/${model.info.model_id}`);
    expect((got.body as { model: LoggedModelJson }).model).toEqual(model);
  });

  it("refuses bad input with 4xx and changes nothing", async () => {
    const id = model.info.model_id;
    expect(await server.call("POST", `${API}/logged-models`, { name: "x" })).toMatchObject({
      status: 400,
      body: { error_code: "INVALID_PARAMETER_VALUE" },
    });
    expect(
      await server.call("POST", `${API}/logged-models`, { experiment_id: "987654", name: "x" }),
    ).toMatchObject({ status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST" } });
    expect(
      await server.call("PATCH", `${API}/logged-models/${id}`, { model_id: id, status: "SHIPPED" }),
    ).toMatchObject({ status: 400 });
    expect(
      await server.call("PATCH", `${API}/logged-models/${id}`, {
        model_id: id,
        status: "LOGGED_MODEL_PENDING",
      }),
    ).toMatchObject({ status: 400 });
    expect(await server.call("GET", `${API}/logged-models/m-${"0".repeat(32)}`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    expect(await server.call("GET", `${API}/logged-models/..%2F..%2Fetc`)).toMatchObject({ status: 404 });
    expect((await put(`${root(model)}/../../escape.txt`, "x")).status).toBe(400);
    expect(
      await server.call("POST", `${API}/runs/outputs`, {
        run_id: runId,
        models: [{ model_id: `m-${"f".repeat(32)}`, step: 0 }],
      }),
    ).toMatchObject({ status: 404 });
    const after = await server.call("GET", `${API}/logged-models/${id}`);
    expect((after.body as { model: LoggedModelJson }).model).toEqual(model);
  });

  it("serves the files through the artifact proxy and the logged-model artifact routes", async () => {
    const listing = await server.call("GET", `${PROXY}?path=${encodeURIComponent(root(model))}`);
    expect(listing.body).toEqual({
      files: [
        { path: "MLmodel", is_dir: false, file_size: 33 },
        { path: "data", is_dir: true },
        { path: "model.json", is_dir: false, file_size: expect.any(Number) },
        { path: "model.onnx", is_dir: false, file_size: expect.any(Number) },
      ],
    });
    const sub = await server.call("GET", `${PROXY}?path=${encodeURIComponent(`${root(model)}/data`)}`);
    expect(sub.body).toEqual({ files: [{ path: "weights.bin", is_dir: false, file_size: 3 }] });
    const dirs = await server.call(
      "GET",
      `${API}/logged-models/${model.info.model_id}/artifacts/directories?artifact_directory_path=data`,
    );
    expect(dirs.body).toEqual({
      root_uri: model.info.artifact_uri,
      files: [{ path: "data/weights.bin", is_dir: false, file_size: 3 }],
    });
    const file = await server.call(
      "GET",
      `${API}/logged-models/${model.info.model_id}/artifacts/files?artifact_file_path=MLmodel`,
    );
    expect(file).toMatchObject({ status: 200, body: "artifact_path: model\nflavors: {}\n" });
    const proxied = await fetch(`${server.url}${PROXY}/${root(model)}/data/weights.bin`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(Buffer.from(await proxied.arrayBuffer())).toEqual(Buffer.from([1, 2, 3]));
    // The experiment in the path must be the model's own.
    expect((await put(`0/models/${model.info.model_id}/artifacts/x.txt`, "x")).status).toBe(404);
  });

  it("searches like search_logged_models: filter, order_by, pages", async () => {
    const second = await logModel("other", { MLmodel: "x" });
    const search = async (body: Record<string, unknown>) =>
      server.call("POST", `${API}/logged-models/search`, { experiment_ids: [experimentId], ...body });
    const names = (r: { body: unknown }) =>
      ((r.body as { models: LoggedModelJson[] }).models ?? []).map((m) => m.info.name);
    expect(names(await search({ filter: `source_run_id = '${runId}' AND name = 'model'` }))).toEqual([
      "model",
    ]);
    expect(names(await search({ filter: "params.lr = '0.01' AND name LIKE 'oth%'" }))).toEqual(["other"]);
    expect(
      names(
        await search({ filter: "tags.`mlflow.source.name` = 'train.py' AND status = 'LOGGED_MODEL_READY'" }),
      ),
    ).toEqual(["other", "model"]);
    expect(
      names(
        await search({
          filter: "status = 'LOGGED_MODEL_READY'",
          order_by: [{ field_name: "name", ascending: true }],
        }),
      ),
    ).toEqual(["model", "other"]);
    const page1 = await search({ filter: "status = 'LOGGED_MODEL_READY'", max_results: 1 });
    const token = (page1.body as { next_page_token: string }).next_page_token;
    expect(names(page1)).toEqual(["other"]);
    expect(
      names(await search({ filter: "status = 'LOGGED_MODEL_READY'", max_results: 1, page_token: token })),
    ).toEqual(["model"]);
    expect(await search({ filter: "metrics.acc > 0.5" })).toMatchObject({ status: 400 });
    expect(await search({ filter: "name = " })).toMatchObject({ status: 400 });
    expect(await search({ order_by: [{ field_name: "nope" }] })).toMatchObject({ status: 400 });
    expect(await server.call("POST", `${API}/logged-models/search`, {})).toMatchObject({ status: 400 });
    const del = await server.call("DELETE", `${API}/logged-models/${second.info.model_id}`);
    expect(del).toMatchObject({
      status: 200,
    });
    expect(await server.call("GET", `${API}/logged-models/${second.info.model_id}`)).toMatchObject({
      status: 404,
    });
    expect(names(await search({}))).not.toContain("other");
  });

  it("sets and deletes tags, logs params, and shows the run's outputs", async () => {
    const id = model.info.model_id;
    expect(
      await server.call("PATCH", `${API}/logged-models/${id}/tags`, {
        model_id: id,
        tags: [{ key: "stage", value: "candidate" }],
      }),
    ).toMatchObject({ status: 200 });
    expect(
      await server.call("POST", `${API}/logged-models/${id}/params`, {
        model_id: id,
        params: [{ key: "epochs", value: "3" }],
      }),
    ).toMatchObject({ status: 200 });
    let got = (await server.call("GET", `${API}/logged-models/${id}`)).body as { model: LoggedModelJson };
    expect(got.model.info.tags).toContainEqual({ key: "stage", value: "candidate" });
    expect(got.model.data.params).toContainEqual({ key: "epochs", value: "3" });
    expect(await server.call("DELETE", `${API}/logged-models/${id}/tags/stage`)).toMatchObject({
      status: 200,
    });
    expect(await server.call("DELETE", `${API}/logged-models/${id}/tags/stage`)).toMatchObject({
      status: 404,
    });
    got = (await server.call("GET", `${API}/logged-models/${id}`)).body as { model: LoggedModelJson };
    expect(got.model.info.tags).not.toContainEqual({ key: "stage", value: "candidate" });
    const run = await server.call("GET", `${API}/runs/get?run_id=${runId}`);
    expect((run.body as { run: { outputs: unknown } }).run.outputs).toMatchObject({
      model_outputs: expect.arrayContaining([{ model_id: id, step: 0 }]),
    });
  });

  it("registers models:/m-<id> and runs:/<run>/<name> as versions with the model's files; the gate holds", async () => {
    expect(await server.call("POST", `${API}/registered-models/create`, { name: "digits" })).toMatchObject({
      status: 200,
    });
    // register_model("models:/m-...") sends the model's artifact location and its id.
    const v1 = await server.call("POST", `${API}/model-versions/create`, {
      name: "digits",
      source: model.info.artifact_uri,
      run_id: runId,
      model_id: model.info.model_id,
    });
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    expect((v1.body as { model_version: Record<string, unknown> }).model_version).toMatchObject({
      version: "1",
      source: model.info.artifact_uri,
      run_id: runId,
      model_id: model.info.model_id,
    });
    const v2 = await server.call("POST", `${API}/model-versions/create`, {
      name: "digits",
      source: `models:/${model.info.model_id}`,
    });
    expect(v2.status, JSON.stringify(v2.body)).toBe(200);
    const v3 = await server.call("POST", `${API}/model-versions/create`, {
      name: "digits",
      source: `runs:/${runId}/model`,
      run_id: runId,
    });
    expect(v3.status, JSON.stringify(v3.body)).toBe(200);
    for (const version of [1, 2, 3]) {
      const native = await server.call("GET", `/api/v1/models/digits/versions/${version}`);
      const files = (native.body as { files: Array<{ path: string }> }).files.map((f) => f.path).sort();
      expect(files).toEqual(["MLmodel", "data/weights.bin", "model.json", "model.onnx"]);
    }
    const uri = await server.call("GET", `${API}/model-versions/get-download-uri?name=digits&version=1`);
    expect(uri.body).toEqual({ artifact_uri: model.info.artifact_uri });
    const promote = await server.call("POST", `${API}/model-versions/transition-stage`, {
      name: "digits",
      version: "1",
      stage: "Production",
      archive_existing_versions: false,
    });
    expect(promote).toMatchObject({ status: 422, body: { error_code: "INVALID_STATE" } });
    const versions = await server.call(
      "GET",
      `${API}/model-versions/search?filter=${encodeURIComponent("name = 'digits'")}`,
    );
    for (const v of (versions.body as { model_versions: Array<{ current_stage: string }> }).model_versions) {
      expect(v.current_stage).toBe("None");
    }
    const pending = await server.call("POST", `${API}/logged-models`, {
      experiment_id: experimentId,
      name: "p",
    });
    const pendingId = (pending.body as { model: LoggedModelJson }).model.info.model_id;
    expect(
      await server.call("POST", `${API}/model-versions/create`, {
        name: "digits",
        source: `models:/${pendingId}`,
      }),
    ).toMatchObject({ status: 400 });
  });

  it("keeps projects apart: no reading, registering or writing another project's logged model", async () => {
    const headers = { "x-mlops-project": "secret" };
    expect((await server.call("POST", "/api/v1/projects", { name: "secret" })).status).toBe(201);
    const exp = await fetch(`${server.url}${API}/experiments/create`, {
      method: "POST",
      headers: {
        ...headers,
        authorization: `Bearer ${server.adminToken}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "hidden" }),
    });
    const hiddenExp = ((await exp.json()) as { experiment_id: string }).experiment_id;
    const created = await server.call("POST", `${API}/logged-models`, {
      experiment_id: hiddenExp,
      name: "h",
    });
    const hidden = (created.body as { model: LoggedModelJson }).model;
    await put(`${root(hidden)}/MLmodel`, "secret");
    await server.call("PATCH", `${API}/logged-models/${hidden.info.model_id}`, {
      status: "LOGGED_MODEL_READY",
    });

    const eve = await tokenFor(server, "eve", "engineer");
    expect(
      await server.call("GET", `${API}/logged-models/${hidden.info.model_id}`, undefined, eve),
    ).toMatchObject({
      status: 403,
    });
    expect((await put(`${root(hidden)}/MLmodel`, "overwritten", eve)).status).toBe(403);
    const read = await fetch(`${server.url}${PROXY}/${root(hidden)}/MLmodel`, {
      headers: { authorization: `Bearer ${eve}` },
    });
    expect(read.status).toBe(403);
    await read.arrayBuffer();
    expect(
      await server.call("POST", `${API}/logged-models/search`, { experiment_ids: [hiddenExp] }, eve),
    ).toMatchObject({ status: 403 });
    expect(
      await server.call(
        "POST",
        `${API}/model-versions/create`,
        { name: "digits", source: `models:/${hidden.info.model_id}` },
        eve,
      ),
    ).toMatchObject({ status: 403 });
    // Even the admin cannot put one project's model files into another project's registered model.
    expect(
      await server.call("POST", `${API}/model-versions/create`, {
        name: "digits",
        source: `models:/${hidden.info.model_id}`,
      }),
    ).toMatchObject({ status: 400 });
    const file = await fetch(`${server.url}${PROXY}/${root(hidden)}/MLmodel`, {
      headers: { authorization: `Bearer ${server.adminToken}` },
    });
    expect(await file.text()).toBe("secret");
  });

  it("limits a job's token to logged models of its own run", async () => {
    const admin = await server.platform.identity.authenticate(server.adminToken);
    const project = await server.platform.identity.getProject(admin, "default");
    const otherRun = await server.call("POST", `${API}/runs/create`, { experiment_id: experimentId });
    const otherRunId = (otherRun.body as { run: { info: { run_id: string } } }).run.info.run_id;
    const job = (
      await server.platform.identity.issueWorkloadToken(
        admin.userId,
        { projectId: project.id, jobId: "job-lm", runId: otherRunId },
        600,
      )
    ).token;
    const as = (method: string, url: string, body?: unknown) => server.call(method, url, body, job);
    // Its own run: the whole log_model flow works.
    const own = await as("POST", `${API}/logged-models`, {
      experiment_id: experimentId,
      name: "job-model",
      source_run_id: otherRunId,
    });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    const ownModel = (own.body as { model: LoggedModelJson }).model;
    expect((await put(`${root(ownModel)}/MLmodel`, "job", job)).status).toBe(200);
    expect(
      await as("PATCH", `${API}/logged-models/${ownModel.info.model_id}`, { status: "LOGGED_MODEL_READY" }),
    ).toMatchObject({ status: 200 });
    expect(
      await as("POST", `${API}/runs/outputs`, {
        run_id: otherRunId,
        models: [{ model_id: ownModel.info.model_id, step: 1 }],
      }),
    ).toMatchObject({ status: 200 });
    // Anything else: another run's model, a model of no run, another run's outputs.
    expect(
      await as("POST", `${API}/logged-models`, { experiment_id: experimentId, source_run_id: runId }),
    ).toMatchObject({ status: 403 });
    expect(await as("POST", `${API}/logged-models`, { experiment_id: experimentId })).toMatchObject({
      status: 403,
    });
    const id = model.info.model_id;
    expect(
      await as("PATCH", `${API}/logged-models/${id}`, { status: "LOGGED_MODEL_UPLOAD_FAILED" }),
    ).toMatchObject({
      status: 403,
    });
    expect(
      await as("PATCH", `${API}/logged-models/${id}/tags`, { tags: [{ key: "k", value: "v" }] }),
    ).toMatchObject({ status: 403 });
    expect(await as("DELETE", `${API}/logged-models/${id}`)).toMatchObject({ status: 403 });
    expect((await put(`${root(model)}/MLmodel`, "hijacked", job)).status).toBe(403);
    expect(
      await as("POST", `${API}/runs/outputs`, { run_id: runId, models: [{ model_id: id, step: 0 }] }),
    ).toMatchObject({ status: 403 });
    // Reading its project's models stays allowed (what --init-from needs).
    expect(await as("GET", `${API}/logged-models/${id}`)).toMatchObject({ status: 200 });
    const after = (await server.call("GET", `${API}/logged-models/${id}`)).body as { model: LoggedModelJson };
    expect(after.model.info.status).toBe("LOGGED_MODEL_READY");
    expect(after.model.info.tags).not.toContainEqual({ key: "k", value: "v" });
  });
});
