import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as ort from "onnxruntime-node";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSyntheticDataset } from "../src/demo/synthetic-data.js";
import { runCliProcess } from "./support/cli.js";
import { REPO_ROOT } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import { getJob, startJobServer } from "./jobs-helpers.js";

/**
 * The engineer's flow end to end, on CPU: synthetic data -> `mlops run submit --wait -- python train.py`
 * (real PyTorch in the sandbox) -> metrics in the job's run -> a registered model version whose ONNX
 * file loads and predicts in onnxruntime-node.
 */
describe("training example as a job, end to end [sqlite]", () => {
  let server: TestServer;
  let codeDir: string;

  beforeAll(async () => {
    server = await startJobServer("sqlite");
    codeDir = mkdtempSync(path.join(os.tmpdir(), "mlops-train-"));
    const example = path.join(REPO_ROOT, "examples", "vision-classifier");
    for (const file of readdirSync(example).filter((name) => name.endsWith(".py"))) {
      cpSync(path.join(example, file), path.join(codeDir, file));
    }
    await generateSyntheticDataset({ outDir: path.join(codeDir, "data"), count: 120, seed: 7 });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(codeDir, { recursive: true, force: true });
  });

  it("trains, tracks, registers; the registered ONNX model predicts", async () => {
    const started = Date.now();
    const result = await runCliProcess(
      [
        "--json",
        "run",
        "submit",
        "--code",
        codeDir,
        "--name",
        "train-demo",
        "--cpu",
        "1",
        "--wait",
        "--",
        "python",
        "train.py",
        "--data",
        "data",
        "--epochs",
        "2",
        "--register",
        "demo-model",
      ],
      { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken },
    );
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    const job = JSON.parse(result.stdout) as { id: string; state: string; runId: string };
    expect(job.state).toBe("succeeded");
    expect(Date.now() - started).toBeLessThan(60_000);

    const { replicas } = await getJob(server, job.id);
    expect(replicas[0].exitCode).toBe(0);
    const run = await server.platform.tracking.lookupRun(job.runId);
    expect(run?.tags["mlops.job_id"]).toBe(job.id);
    const metricKeys = new Set(run?.metrics.map((metric) => metric.key));
    expect([...metricKeys].some((key) => /loss/.test(key))).toBe(true);
    expect([...metricKeys].some((key) => /acc/.test(key))).toBe(true);
    expect(Object.keys(run?.params ?? {})).toContain("epochs");
    expect(run?.info.status).toBe("FINISHED");

    const versions = await server.call("GET", "/api/v1/models/demo-model/versions");
    expect(versions.status).toBe(200);
    const [version] = (
      versions.body as { versions: Array<{ version: number; tags: Record<string, string> }> }
    ).versions;
    expect(version).toBeDefined();
    // Registration ran serving's preprocessing on the example's parity/ samples (gray, RGBA, JPEG, other sizes).
    expect(version.tags["mlops.preprocessing_parity"]).toMatch(/^passed: 4 sample\(s\)/);
    const base = `${server.url}/api/v1/models/demo-model/versions/${version.version}/files`;
    const headers = { authorization: `Bearer ${server.adminToken}` };
    const onnxResponse = await fetch(`${base}/model.onnx`, { headers });
    expect(onnxResponse.status).toBe(200);
    const descriptor = (await (await fetch(`${base}/model.json`, { headers })).json()) as {
      classes: string[];
      inputShape: number[];
    };
    expect(descriptor.classes).toEqual(["circle", "square", "triangle"]);
    expect(descriptor.inputShape).toEqual([3, 32, 32]);
    const session = await ort.InferenceSession.create(new Uint8Array(await onnxResponse.arrayBuffer()));
    const inputName = session.inputNames[0];
    const size = 32;
    const classDir = path.join(codeDir, "data", "circle");
    const image = path.join(classDir, readdirSync(classDir)[0]);
    const { data } = await sharp(image)
      .resize(size, size)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const planar = new Float32Array(3 * size * size);
    for (let i = 0; i < size * size; i++)
      for (let c = 0; c < 3; c++) planar[c * size * size + i] = data[i * 3 + c] / 255;
    const output = await session.run({ [inputName]: new ort.Tensor("float32", planar, [1, 3, size, size]) });
    const scores = output[session.outputNames[0]].data as Float32Array;
    expect(scores.length).toBe(descriptor.classes.length);
    expect([...scores].every(Number.isFinite)).toBe(true);
  }, 90_000);
});
