import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SqlTrackingStore } from "../src/store/repositories/tracking.js";
import { fixtureFiles, upload } from "./registry-helpers.js";
import { reportSnapshot } from "./snapshot-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

type MV = {
  name: string;
  version: string;
  current_stage: string;
  source: string;
  run_id?: string;
  aliases?: string[];
};
const API = "/api/2.0/mlflow";

describeEachDatabase("MLflow model registry API", (kind) => {
  let server: TestServer;
  let runId: string;
  let artifactUri: string;

  beforeAll(async () => {
    server = await startTestServer(kind);
    // A run with a `model/` directory, as a training job would leave it.
    const tracking = new SqlTrackingStore(server.platform.store);
    const project = await server.platform.identity.getProject(
      await server.platform.identity.authenticate(server.adminToken),
      "default",
    );
    const experiment = await tracking.insertExperiment({
      projectId: project.id,
      name: "shapes",
      artifactLocation: "mlflow-artifacts:/{id}",
      createdBy: "admin",
      at: Date.now(),
      tags: [],
    });
    runId = randomBytes(16).toString("hex");
    artifactUri = `${experiment.artifactLocation}/${runId}/artifacts`;
    await tracking.insertRun(
      {
        runId,
        experimentId: experiment.id,
        projectId: project.id,
        runName: "train",
        status: "FINISHED",
        startTime: Date.now(),
        endTime: Date.now(),
        lifecycleStage: "active",
        userId: "admin",
        artifactUri,
      },
      [],
    );
    const { onnx, json } = fixtureFiles();
    for (const [file, bytes] of [
      ["model.onnx", onnx],
      ["model.json", json],
    ] as const) {
      const sha256 = await upload(server, bytes);
      await tracking.putRunArtifact(runId, {
        path: `model/${file}`,
        sha256,
        size: bytes.length,
        createdAt: Date.now(),
      });
    }
  });
  afterAll(async () => server?.stop());

  it("creates, gets, searches, renames and tags registered models", async () => {
    const created = await server.call("POST", `${API}/registered-models/create`, {
      name: "shapes-cls",
      description: "d",
      tags: [{ key: "team", value: "vision" }],
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      registered_model: { name: "shapes-cls", description: "d", tags: [{ key: "team", value: "vision" }] },
    });
    const dup = await server.call("POST", `${API}/registered-models/create`, { name: "shapes-cls" });
    expect(dup).toMatchObject({ status: 400, body: { error_code: "RESOURCE_ALREADY_EXISTS" } });
    await server.call("POST", `${API}/registered-models/create`, { name: "other" });

    const search = await server.call(
      "GET",
      `${API}/registered-models/search?filter=${encodeURIComponent("name LIKE '%shapes%'")}`,
    );
    expect(
      (search.body as { registered_models: Array<{ name: string }> }).registered_models.map((m) => m.name),
    ).toEqual(["shapes-cls"]);
    const paged = (await server.call("GET", `${API}/registered-models/search?max_results=1`)).body as {
      registered_models: Array<{ name: string }>;
      next_page_token: string;
    };
    expect(paged.registered_models).toHaveLength(1);
    const next = (
      await server.call(
        "GET",
        `${API}/registered-models/search?max_results=1&page_token=${paged.next_page_token}`,
      )
    ).body as { registered_models: Array<{ name: string }>; next_page_token?: string };
    expect(next.registered_models[0].name).not.toBe(paged.registered_models[0].name);
    expect(next.next_page_token).toBeUndefined();

    await server.call("POST", `${API}/registered-models/rename`, { name: "other", new_name: "other2" });
    expect((await server.call("GET", `${API}/registered-models/get?name=other2`)).status).toBe(200);
    expect(await server.call("GET", `${API}/registered-models/get?name=other`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
    await server.call("POST", `${API}/registered-models/set-tag`, { name: "other2", key: "k", value: "v" });
    await server.call("DELETE", `${API}/registered-models/delete-tag`, { name: "other2", key: "k" });
    expect(
      (
        (await server.call("GET", `${API}/registered-models/get?name=other2`)).body as {
          registered_model: { tags?: unknown };
        }
      ).registered_model.tags,
    ).toBeUndefined();
    expect((await server.call("DELETE", `${API}/registered-models/delete`, { name: "other2" })).status).toBe(
      200,
    );
  });

  it("creates a version from a run, copies its model files, and gives a proxy download URI", async () => {
    const created = await server.call("POST", `${API}/model-versions/create`, {
      name: "shapes-cls",
      source: `runs:/${runId}/model`,
      run_id: runId,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({
      model_version: {
        name: "shapes-cls",
        version: "1",
        current_stage: "None",
        run_id: runId,
        status: "READY",
      },
    });
    const native = (await server.call("GET", "/api/v1/models/shapes-cls/versions/1")).body as {
      files: Array<{ path: string }>;
    };
    expect(native.files.map((f) => f.path)).toEqual(["model.json", "model.onnx"]);
    const uri = await server.call("GET", `${API}/model-versions/get-download-uri?name=shapes-cls&version=1`);
    expect(uri.body).toEqual({ artifact_uri: `${artifactUri}/model` });
    const search = (
      await server.call(
        "GET",
        `${API}/model-versions/search?filter=${encodeURIComponent(`run_id='${runId}'`)}`,
      )
    ).body as { model_versions: MV[] };
    expect(search.model_versions.map((v) => v.version)).toEqual(["1"]);
    expect(await server.call("GET", `${API}/model-versions/get?name=shapes-cls&version=9`)).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
  });

  it("moves to Staging, refuses Production without validation, allows it after a passing one", async () => {
    const staging = await server.call("POST", `${API}/model-versions/transition-stage`, {
      name: "shapes-cls",
      version: "1",
      stage: "Staging",
      archive_existing_versions: false,
    });
    expect(staging.body).toMatchObject({ model_version: { current_stage: "Staging" } });

    const noGate = await server.call("POST", `${API}/model-versions/transition-stage`, {
      name: "shapes-cls",
      version: "1",
      stage: "Production",
      archive_existing_versions: true,
    });
    expect(noGate.status).toBe(422);
    expect(noGate.body).toMatchObject({
      error_code: "INVALID_STATE",
      message: expect.stringContaining("no validation gate"),
    });

    await server.call("PUT", "/api/v1/models/shapes-cls/gate", {
      metric: "accuracy",
      direction: "higher",
      min: 0.9,
      require: "any",
    });
    const noRecord = await server.call("POST", `${API}/model-versions/transition-stage`, {
      name: "shapes-cls",
      version: "1",
      stage: "Production",
      archive_existing_versions: true,
    });
    expect(noRecord.body).toMatchObject({
      error_code: "INVALID_STATE",
      message: expect.stringContaining("no validation record"),
    });
    const stillStaging = (await server.call("GET", `${API}/model-versions/get?name=shapes-cls&version=1`))
      .body as { model_version: MV };
    expect(stillStaging.model_version.current_stage).toBe("Staging");

    await server.call("POST", "/api/v1/models/shapes-cls/versions/1/validations", {
      snapshot: await reportSnapshot(server),
      metrics: { accuracy: 0.94 },
      runId,
    });
    const prod = await server.call("POST", `${API}/model-versions/transition-stage`, {
      name: "shapes-cls",
      version: "1",
      stage: "Production",
      archive_existing_versions: true,
    });
    expect(prod.status).toBe(200);
    expect(prod.body).toMatchObject({ model_version: { current_stage: "Production" } });
    const latest = (
      await server.call("POST", `${API}/registered-models/get-latest-versions`, {
        name: "shapes-cls",
        stages: ["Production"],
      })
    ).body as { model_versions: MV[] };
    expect(latest.model_versions.map((v) => v.version)).toEqual(["1"]);
  });

  it("sets, gets and deletes aliases", async () => {
    expect(
      (
        await server.call("POST", `${API}/registered-models/alias`, {
          name: "shapes-cls",
          alias: "champion",
          version: "1",
        })
      ).status,
    ).toBe(200);
    const byAlias = await server.call("GET", `${API}/registered-models/alias?name=shapes-cls&alias=champion`);
    expect(byAlias.body).toMatchObject({ model_version: { version: "1", aliases: ["champion"] } });
    const model = (await server.call("GET", `${API}/registered-models/get?name=shapes-cls`)).body as {
      registered_model: { aliases: unknown; latest_versions: MV[] };
    };
    expect(model.registered_model.aliases).toEqual([{ alias: "champion", version: "1" }]);
    expect(model.registered_model.latest_versions.map((v) => v.current_stage)).toEqual(["Production"]);
    expect(
      (
        await server.call("DELETE", `${API}/registered-models/alias`, {
          name: "shapes-cls",
          alias: "champion",
        })
      ).status,
    ).toBe(200);
    expect(
      await server.call("GET", `${API}/registered-models/alias?name=shapes-cls&alias=champion`),
    ).toMatchObject({
      status: 404,
      body: { error_code: "RESOURCE_DOES_NOT_EXIST" },
    });
  });

  it("tags, updates and deletes versions", async () => {
    await server.call("POST", `${API}/model-versions/set-tag`, {
      name: "shapes-cls",
      version: "1",
      key: "k",
      value: "v",
    });
    const updated = await server.call("PATCH", `${API}/model-versions/update`, {
      name: "shapes-cls",
      version: "1",
      description: "best",
    });
    expect(updated.body).toMatchObject({
      // The registry adds mlops.preprocessing_parity (docs/serving-model-format.md).
      model_version: { description: "best", tags: expect.arrayContaining([{ key: "k", value: "v" }]) },
    });
    await server.call("DELETE", `${API}/model-versions/delete-tag`, {
      name: "shapes-cls",
      version: "1",
      key: "k",
    });
    const missing = await server.call("POST", `${API}/model-versions/create`, { name: "shapes-cls" });
    expect(missing).toMatchObject({ status: 400, body: { error_code: "INVALID_PARAMETER_VALUE" } });
    const second = await server.call("POST", `${API}/model-versions/create`, {
      name: "shapes-cls",
      source: `runs:/${runId}/model`,
      run_id: runId,
    });
    expect((second.body as { model_version: MV }).model_version.version).toBe("2");
    expect(
      (await server.call("DELETE", `${API}/model-versions/delete`, { name: "shapes-cls", version: "2" }))
        .status,
    ).toBe(200);
    expect((await server.call("GET", `${API}/model-versions/get?name=shapes-cls&version=2`)).status).toBe(
      404,
    );
  });
});
