import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPythonCandidates, findPythonWithTorch } from "../src/runtime/local/python.js";
import { REPO_ROOT } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";

// The interpreter the platform gives jobs (MLOPS_PYTHON, else the first that imports torch): the SDK runs
// inside jobs, so it is tested with that one. CI installs PyTorch: there, finding none is a failure.
const found = await findPythonWithTorch(defaultPythonCandidates(process.env.MLOPS_PYTHON));
if (!found && process.env.CI === "true") throw new Error("CI=true: no Python that imports torch was found");
const PYTHON = found?.path ?? "python3";

// The Python SDK (standard library only) against the real server: a training script as a user writes it.
const SCRIPT = `
import json, os, sys
sys.path.insert(0, os.path.join(sys.argv[1], "sdk", "python"))
from mlops_sdk import start_run
work = sys.argv[2]
with open(os.path.join(work, "weights.bin"), "wb") as f:
    f.write(bytes(range(256)) * 40)
run = start_run("sdk-exp", "sdk-run", url=os.environ["URL"], token=os.environ["TOKEN"], environ={})
run.log_params({"lr": 0.01, "epochs": 3})
for step in range(1500):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
run.log_artifact(os.path.join(work, "weights.bin"), "model")
run.end_run()
print(json.dumps({"run_id": run.run_id}))
`;

describe.skipIf(!found)("Python SDK against the server", () => {
  let server: TestServer;
  let work: string;

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    work = mkdtempSync(path.join(os.tmpdir(), "mlops-sdk-"));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("logs params, metrics in batches and an artifact to its run", async () => {
    const script = path.join(work, "train.py");
    writeFileSync(script, SCRIPT);
    // Asynchronously: the server runs in this process and must keep answering.
    const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const proc = spawn(PYTHON, [script, REPO_ROOT, work], {
          env: { PATH: process.env.PATH, URL: server.url, TOKEN: server.adminToken },
          timeout: 60_000,
        });
        let stdout = "";
        let stderr = "";
        proc.stdout.on("data", (d) => {
          stdout += d;
        });
        proc.stderr.on("data", (d) => {
          stderr += d;
        });
        proc.on("error", reject);
        proc.on("close", (status) => resolve({ status, stdout, stderr }));
      },
    );
    expect(child.status, child.stderr).toBe(0);
    const { run_id: runId } = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as {
      run_id: string;
    };
    const run = (await server.call("GET", `/api/v1/runs/${runId}`)).body as {
      status: string;
      params: Record<string, string>;
      metrics: Record<string, { step: number }>;
    };
    expect(run.status).toBe("FINISHED");
    expect(run.params).toEqual({ lr: "0.01", epochs: "3" });
    expect(run.metrics.loss.step).toBe(1499);
    const history = (
      await server.call("GET", `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=loss`)
    ).body as {
      metrics: unknown[];
    };
    expect(history.metrics).toHaveLength(1500);
    const files = await server.platform.runArtifacts.allFiles(runId);
    expect(files).toMatchObject([{ path: "model/weights.bin", size: 256 * 40 }]);
  });
});
