import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureModel } from "./fixtures/models/fixtures.js";
import { addVersion, fixtureBytes, makeProduction, noisePng, postJson } from "./serving-fixtures.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const BODY_LIMIT = 512 * 1024;

function input(seed: number, n = 1): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n * 3 * 32 * 32; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out.push((s / 2147483648) * 2 - 1);
  }
  return out;
}

describeEachDatabase("serving: Open Inference Protocol", (kind) => {
  let server: TestServer;
  let direct: ort.InferenceSession;

  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_BODY_LIMIT_BYTES: String(BODY_LIMIT) });
    const v1 = await addVersion(server, "shapes", fixtureBytes("tiny-classifier"));
    await makeProduction(server, "shapes", v1);
    const created = await server.call("POST", "/api/v1/deployments", { name: "shapes", model: "shapes" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const det = await addVersion(server, "boxes", fixtureBytes("tiny-detector"));
    const dev = await server.call("POST", "/api/v1/deployments", {
      name: "boxes",
      model: "boxes",
      version: det,
      environment: "dev",
    });
    expect(dev.status, JSON.stringify(dev.body)).toBe(201);
    direct = await ort.InferenceSession.create(fixtureModel("tiny-classifier").modelPath);
  });

  afterAll(async () => {
    await direct?.release();
    await server?.stop();
  });

  it("answers health and metadata per the protocol", async () => {
    expect((await server.call("GET", "/v2/health/live", undefined, null)).status).toBe(200);
    expect((await server.call("GET", "/v2/health/ready", undefined, null)).status).toBe(200);
    const meta = await server.call("GET", "/v2/models/shapes");
    expect(meta.status).toBe(200);
    expect(meta.body).toEqual({
      name: "shapes",
      versions: ["1"],
      platform: "onnxruntime",
      inputs: [{ name: "input", datatype: "FP32", shape: [-1, 3, 32, 32] }],
      outputs: [{ name: "logits", datatype: "FP32", shape: [-1, 3] }],
    });
    const ready = await server.call("GET", "/v2/models/shapes/ready");
    expect(ready).toMatchObject({ status: 200, body: { name: "shapes", ready: true } });
  });

  it("infers the same numbers as a direct onnxruntime call (flat and nested data)", async () => {
    const data = input(7, 2);
    const expected = (
      await direct.run({ input: new ort.Tensor("float32", Float32Array.from(data), [2, 3, 32, 32]) })
    ).logits.data as Float32Array;

    const flat = await postJson(server, "/v2/models/shapes/infer", {
      id: "req-1",
      inputs: [{ name: "input", shape: [2, 3, 32, 32], datatype: "FP32", data }],
    });
    expect(flat.status, JSON.stringify(flat.body)).toBe(200);
    const body = flat.body as {
      model_name: string;
      model_version: string;
      id: string;
      parameters: { prediction_id: string };
      outputs: Array<{ name: string; shape: number[]; datatype: string; data: number[] }>;
    };
    expect(body).toMatchObject({ model_name: "shapes", model_version: "1", id: "req-1" });
    expect(body.outputs).toHaveLength(1);
    expect(body.outputs[0]).toMatchObject({ name: "logits", shape: [2, 3], datatype: "FP32" });
    expect(body.outputs[0].data.map(Math.fround)).toEqual(Array.from(expected));
    expect(body.parameters.prediction_id).toMatch(/^[0-9a-f-]{36}$/);

    // Nested to the tensor's shape, addressed by version.
    const one = data.slice(0, 3 * 32 * 32);
    const shaped = [
      [0, 1, 2].map((c) =>
        Array.from({ length: 32 }, (_, y) => one.slice(c * 1024 + y * 32, c * 1024 + y * 32 + 32)),
      ),
    ];
    const byVersion = await postJson(server, "/v2/models/shapes/versions/1/infer", {
      inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: shaped }],
      outputs: [{ name: "logits" }],
    });
    expect(byVersion.status, JSON.stringify(byVersion.body)).toBe(200);
    const out = (byVersion.body as { outputs: Array<{ data: number[] }> }).outputs[0].data;
    expect(out.map(Math.fround)).toEqual(Array.from(expected.slice(0, 3)));
  });

  it("refuses a wrong shape or datatype with 400 and the protocol's error body", async () => {
    const wrongShape = await postJson(server, "/v2/models/shapes/infer", {
      inputs: [{ name: "input", shape: [1, 3, 16, 16], datatype: "FP32", data: input(1).slice(0, 768) }],
    });
    expect(wrongShape.status).toBe(400);
    expect(Object.keys(wrongShape.body as object)).toEqual(["error"]);
    expect((wrongShape.body as { error: string }).error).toMatch(/shape/);

    const wrongCount = await postJson(server, "/v2/models/shapes/infer", {
      inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: [1, 2, 3] }],
    });
    expect(wrongCount.status).toBe(400);
    expect(typeof (wrongCount.body as { error: unknown }).error).toBe("string");

    const wrongType = await postJson(server, "/v2/models/shapes/infer", {
      inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "INT64", data: input(1).map(Math.round) }],
    });
    expect(wrongType.status).toBe(400);
    expect((wrongType.body as { error: string }).error).toMatch(/datatype/);

    const malformed = await postJson(server, "/v2/models/shapes/infer", "{not json");
    expect(malformed.status).toBe(400);
    expect(typeof (malformed.body as { error: unknown }).error).toBe("string");

    // Invalid input is the caller's fault: logged as invalid, never as a model error.
    await server.platform.serving.predictionLog.flush();
    const d = await server.platform.serving.deployments.get(
      { userId: "system", userName: "system", role: "admin", tokenId: "t" },
      "shapes",
    );
    const stats = await server.platform.serving.predictions.windowStats({
      deploymentId: d.id,
      modelVersionId: d.primaryVersionId,
      since: 0,
    });
    expect(stats.errors).toBe(0);
  });

  it("answers 404 for an unknown model or version, 413 for an oversized body", async () => {
    const unknown = await postJson(server, "/v2/models/nope/infer", {
      inputs: [{ name: "input", shape: [1], datatype: "FP32", data: [1] }],
    });
    expect(unknown.status).toBe(404);
    expect(typeof (unknown.body as { error: unknown }).error).toBe("string");
    expect((await server.call("GET", "/v2/models/nope")).status).toBe(404);
    const wrongVersion = await postJson(server, "/v2/models/shapes/versions/9/infer", {
      inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: input(2) }],
    });
    expect(wrongVersion.status).toBe(404);

    const big = await postJson(server, "/v2/models/shapes/infer", {
      inputs: [{ name: "input", shape: [60, 3, 32, 32], datatype: "FP32", data: input(3, 60) }],
    });
    expect(big.status).toBe(413);
    expect(typeof (big.body as { error: unknown }).error).toBe("string");
  });

  it("requires a token with predict permission", async () => {
    const anonymous = await postJson(server, "/v2/models/shapes/infer", { inputs: [] }, {}, "");
    expect(anonymous.status).toBe(401);
    await server.call("POST", "/api/v1/users", { name: "viewer1", role: "viewer" });
    const issued = await server.call("POST", "/api/v1/tokens", { name: "t", user: "viewer1" });
    const viewer = (issued.body as { token: string }).token;
    const denied = await postJson(
      server,
      "/v2/models/shapes/infer",
      { inputs: [{ name: "input", shape: [1, 3, 32, 32], datatype: "FP32", data: input(4) }] },
      {},
      viewer,
    );
    expect(denied.status).toBe(403);
  });

  it("predicts images through the convenience endpoint (JSON base64, raw image, multipart)", async () => {
    const png = await noisePng(40, 30, 5);
    const json = await postJson(server, "/api/v1/deployments/shapes/predict", {
      image: png.toString("base64"),
    });
    expect(json.status, JSON.stringify(json.body)).toBe(200);
    const answer = json.body as {
      modelVersion: number;
      predictions: Array<{
        predictionId: string;
        task: string;
        width: number;
        labels: Array<{ label: string; score: number }>;
      }>;
    };
    expect(answer.modelVersion).toBe(1);
    expect(answer.predictions[0]).toMatchObject({ task: "classification", width: 40, height: 30 });
    expect(["circle", "square", "triangle"]).toContain(answer.predictions[0].labels[0].label);

    const raw = await fetch(`${server.url}/api/v1/deployments/shapes/predict?topK=2`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "image/png" },
      body: png,
    });
    expect(raw.status).toBe(200);
    const rawBody = (await raw.json()) as typeof answer;
    expect(rawBody.predictions[0].labels).toHaveLength(2);
    expect(rawBody.predictions[0].labels[0]).toEqual(answer.predictions[0].labels[0]);

    const form = new FormData();
    form.append("image", new Blob([png], { type: "image/png" }), "a.png");
    form.append("image", new Blob([await noisePng(20, 20, 6)], { type: "image/png" }), "b.png");
    const multi = await fetch(`${server.url}/api/v1/deployments/shapes/predict`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: form,
    });
    expect(multi.status).toBe(200);
    const multiBody = (await multi.json()) as typeof answer;
    expect(multiBody.predictions).toHaveLength(2);
    expect(new Set(multiBody.predictions.map((p) => p.predictionId)).size).toBe(2);

    const detection = await postJson(server, "/api/v1/deployments/boxes/predict", {
      image: png.toString("base64"),
    });
    expect(detection.status, JSON.stringify(detection.body)).toBe(200);
    expect((detection.body as { predictions: Array<{ task: string }> }).predictions[0].task).toBe(
      "detection",
    );

    const garbage = await postJson(server, "/api/v1/deployments/shapes/predict", {
      image: Buffer.from("not an image").toString("base64"),
    });
    expect(garbage.status).toBe(400);

    // The log links each answer to its id, version and input hash.
    await server.platform.serving.predictionLog.flush();
    const logged = await server.platform.serving.predictions.find(answer.predictions[0].predictionId);
    expect(logged).toMatchObject({
      deployment: "shapes",
      modelVersion: "shapes:1",
      outcome: "success",
      endpoint: "predict",
    });
    expect(logged?.topLabel).toBe(answer.predictions[0].labels[0].label);
    expect(logged?.inputSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("exposes per-version prediction metrics", async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(
      /mlops_predictions_total\{deployment="shapes",version="shapes:1",outcome="success"\} [1-9]/,
    );
    expect(metrics).toMatch(/mlops_prediction_duration_seconds_bucket\{[^}]*deployment="shapes"/);
    expect(metrics).toMatch(/mlops_prediction_confidence_bucket\{[^}]*deployment="shapes"/);
  });
});
