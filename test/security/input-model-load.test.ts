/**
 * Model-load errors reach API clients (deployment status, predict answers): they name the model, never
 * the server's file system layout (docs/security.md, input validation).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import type { ModelDescriptor } from "../../src/registry/model-descriptor.js";
import { ModelLoadError } from "../../src/serving/runner/model-runner.js";
import { OnnxModelRunner, withoutPaths } from "../../src/serving/runner/onnx-model-runner.js";
import { FIXTURE_MODELS_DIR } from "../fixtures/models/fixtures.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-secret-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("gives a load error without the model file's absolute path", async () => {
  const modelPath = path.join(dir, "versions", "v1", "model.onnx");
  const garbage = path.join(dir, "model.onnx");
  writeFileSync(garbage, "not an onnx model");
  const descriptor = JSON.parse(
    readFileSync(path.join(FIXTURE_MODELS_DIR, "tiny-classifier", "model.json"), "utf8"),
  ) as ModelDescriptor;
  const runner = await OnnxModelRunner.create({ workers: 1 });
  try {
    for (const file of [garbage, modelPath]) {
      const err = await runner.load({ key: "m:1", modelPath: file, descriptor }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelLoadError);
      const message = (err as Error).message;
      expect(message).toMatch(/^cannot load model "m:1"/);
      expect(message).not.toContain(dir);
      expect(message).not.toContain(os.tmpdir());
    }
  } finally {
    await runner.close();
  }
});

it("scrubs the model path and any other absolute path from engine messages", () => {
  expect(
    withoutPaths(
      "Load model from /data/m/model.onnx failed: open /etc/x (see '/var/log/y')",
      "/data/m/model.onnx",
    ),
  ).toBe("Load model from <model file> failed: open <path> (see '<path>')");
  expect(withoutPaths("3/4 inputs, ratio 1/2", "/m.onnx")).toBe("3/4 inputs, ratio 1/2");
});
