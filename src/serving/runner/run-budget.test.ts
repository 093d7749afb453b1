import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModelDescriptor, maxRowsPerRun } from "../../registry/model-descriptor.js";
import { OnnxModelRunner } from "./onnx-model-runner.js";

// The input-size caps of docs/serving-model-format.md: a big declared input gets fewer rows per batched run.
const PYTHON = process.env.MLOPS_PYTHON ?? "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, onnx"]).status === 0;

function gray(side: number): ModelDescriptor {
  return {
    format: "mlops-model/v1",
    task: "classification",
    framework: "pytorch",
    inputName: "input",
    inputShape: [1, side, side],
    preprocessing: {
      resize: [side, side],
      colorSpace: "GRAY",
      scale: 1,
      mean: [0],
      std: [1],
      layout: "NCHW",
    },
    classes: ["a", "b"],
    output: { kind: "logits" },
  };
}

describe("maxRowsPerRun", () => {
  it("keeps the configured rows for small inputs and caps big ones at 256 MiB of input per run", () => {
    expect(maxRowsPerRun(gray(32), 32)).toBe(32);
    expect(maxRowsPerRun(gray(2048), 32)).toBe(16);
    expect(maxRowsPerRun(gray(4096), 32)).toBe(4);
    expect(maxRowsPerRun({ ...gray(4096), inputShape: [3, 4096, 4096] }, 32)).toBe(1);
  });
});

describe.skipIf(!hasTorch)("OnnxModelRunner batching of a 1x4096x4096 model", () => {
  let dir: string;
  let runner: OnnxModelRunner;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "run-budget-"));
    const script = [
      "import sys, torch",
      "class M(torch.nn.Module):",
      "    def forward(self, x):",
      "        m = x.mean(dim=(1, 2, 3)).unsqueeze(1)",
      "        return torch.cat([m, -m], dim=1)",
      "torch.onnx.export(M(), torch.zeros(1, 1, 4096, 4096), sys.argv[1], input_names=['input'],",
      "    output_names=['logits'], dynamic_axes={'input': {0: 'b'}, 'logits': {0: 'b'}}, opset_version=13)",
    ].join("\n");
    const made = spawnSync(PYTHON, ["-c", script, path.join(dir, "big.onnx")]);
    expect(made.status, made.stderr.toString()).toBe(0);
    runner = await OnnxModelRunner.create({ workers: 1 });
  }, 60_000);
  afterAll(async () => {
    await runner?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs at most 4 rows at a time although 32 are configured", async () => {
    const info = await runner.load({
      key: "big",
      modelPath: path.join(dir, "big.onnx"),
      descriptor: gray(4096),
      batching: { maxBatchSize: 32, maxDelayMs: 0 },
    });
    expect(info.batching).toEqual({ maxBatchSize: 4, maxDelayMs: 0 });
  });
});
