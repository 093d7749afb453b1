import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { expect } from "vitest";
import { FIXTURE_MODELS_DIR, type FixtureModelName } from "./fixtures/models/fixtures.js";
import { reportSnapshot } from "./snapshot-helpers.js";
import type { TestServer } from "./support/server.js";

/** Helpers of the serving and canary scenario tests: models in the registry, images, requests. */

export async function uploadBlob(server: TestServer, bytes: Buffer | Uint8Array): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/models/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { sha256: string }).sha256;
}

export function fixtureBytes(name: FixtureModelName): { onnx: Buffer; json: Buffer } {
  const dir = path.join(FIXTURE_MODELS_DIR, name);
  return {
    onnx: readFileSync(path.join(dir, "model.onnx")),
    json: readFileSync(path.join(dir, "model.json")),
  };
}

/**
 * Registers the model (with a gate: accuracy >= 0.5 that counts reported records, so that serving tests can
 * set the outcome by hand; measured validation has its own tests) unless it exists.
 */
export async function ensureModel(server: TestServer, model: string): Promise<void> {
  const found = await server.call("GET", `/api/v1/models/${model}`);
  if (found.status === 200) return;
  const created = await server.call("POST", "/api/v1/models", {
    name: model,
    gate: { metric: "accuracy", direction: "higher", min: 0.5, require: "any" },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

/** A new version of `model` from the given files (default: a fixture's); returns its number. */
export async function addVersion(
  server: TestServer,
  model: string,
  files: { onnx: Buffer | Uint8Array; json: Buffer | string },
): Promise<number> {
  await ensureModel(server, model);
  const body = {
    files: [
      { path: "model.onnx", sha256: await uploadBlob(server, files.onnx) },
      { path: "model.json", sha256: await uploadBlob(server, Buffer.from(files.json)) },
    ],
  };
  const created = await server.call("POST", `/api/v1/models/${model}/versions`, body);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return (created.body as { version: number }).version;
}

/** staging + a validation record with the given accuracy (>= 0.5 passes the gate). */
export async function stage(
  server: TestServer,
  model: string,
  version: number,
  accuracy = 0.9,
): Promise<void> {
  const moved = await server.call("POST", `/api/v1/models/${model}/versions/${version}/transition`, {
    stage: "staging",
    reason: "test",
  });
  expect(moved.status, JSON.stringify(moved.body)).toBe(200);
  const recorded = await server.call("POST", `/api/v1/models/${model}/versions/${version}/validations`, {
    snapshot: await reportSnapshot(server),
    metrics: { accuracy },
  });
  expect(recorded.status, JSON.stringify(recorded.body)).toBe(201);
}

export async function makeProduction(server: TestServer, model: string, version: number): Promise<void> {
  await stage(server, model, version);
  const moved = await server.call("POST", `/api/v1/models/${model}/versions/${version}/promote`, {
    reason: "test",
  });
  expect(moved.status, JSON.stringify(moved.body)).toBe(200);
}

export async function stageOf(server: TestServer, model: string, version: number): Promise<string> {
  const got = await server.call("GET", `/api/v1/models/${model}/versions/${version}`);
  return (got.body as { stage: string }).stage;
}

/** A deterministic RGB noise image, encoded as PNG. */
export async function noisePng(width: number, height: number, seed: number): Promise<Buffer> {
  let s = seed * 7919 + 17;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    pixels[i] = s >> 23;
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

export async function postJson(
  server: TestServer,
  urlPath: string,
  body: unknown,
  headers: Record<string, string> = {},
  token = server.adminToken,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(server.url + urlPath, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/**
 * A classifier with the tiny-classifier's contract that always answers class `cls` (logits = bias), built
 * with the onnx package (no torch import: fast). For "a canary that answers garbage".
 */
export function constantClassifier(dir: string, cls: number): Buffer {
  const out = path.join(dir, `constant-${cls}.onnx`);
  const script = `
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
cls = int(sys.argv[2])
bias = np.zeros(3, dtype=np.float32); bias[cls] = 8.0
w = numpy_helper.from_array(np.zeros((3072, 3), dtype=np.float32), "w")
b = numpy_helper.from_array(bias, "b")
shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape")
nodes = [helper.make_node("Reshape", ["input", "shape"], ["flat"]),
         helper.make_node("MatMul", ["flat", "w"], ["mm"]),
         helper.make_node("Add", ["mm", "b"], ["logits"])]
graph = helper.make_graph(nodes, "constant",
  [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], [w, b, shape])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
`;
  const scriptFile = path.join(dir, "constant.py");
  writeFileSync(scriptFile, script);
  execFileSync("/usr/bin/python3", [scriptFile, out, String(cls)], { stdio: "pipe" });
  return readFileSync(out);
}
