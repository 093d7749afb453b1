import { describe, expect, it } from "vitest";
import { parseGpuDeclaration } from "./gpu-inventory.js";
import { createJob } from "./job.js";
import { reservedEnvNames, resolveCommand, workloadEnv } from "./workload-env.js";

describe("workload environment (docs/jobs-and-workloads.md)", () => {
  const job = {
    ...createJob(
      { projectId: "p", command: ["python", "train.py"], env: { PYTHONPATH: "lib", FOO: "bar" } },
      "job-1",
      new Date(0),
    ),
    runId: "a".repeat(32),
    experimentId: "7",
  };

  it("sets the contract, names exactly the job's GPUs and keeps the user's variables", () => {
    const gpus = parseGpuDeclaration("h100:4").slice(2, 4);
    const env = workloadEnv({
      job,
      replicaIndex: 0,
      apiUrl: "http://cp:1",
      token: "tok",
      outputDir: "/w/out",
      gpus,
      sdkPythonDir: "/sdk",
    });
    expect(env).toMatchObject({
      MLOPS_API_URL: "http://cp:1",
      MLOPS_TOKEN: "tok",
      MLOPS_JOB_ID: "job-1",
      MLOPS_RUN_ID: job.runId,
      MLOPS_OUTPUT_DIR: "/w/out",
      MLFLOW_TRACKING_URI: "http://cp:1",
      MLFLOW_TRACKING_TOKEN: "tok",
      MLFLOW_RUN_ID: job.runId,
      MLFLOW_EXPERIMENT_ID: "7",
      CUDA_VISIBLE_DEVICES: "2,3",
      PYTHONPATH: "/sdk:lib",
      FOO: "bar",
    });
    expect(
      workloadEnv({ job, replicaIndex: 0, apiUrl: "u", token: "t", outputDir: "o", gpus: [] })
        .CUDA_VISIBLE_DEVICES,
    ).toBe("");
  });

  it("refuses user variables the platform owns and resolves a leading python", () => {
    expect(reservedEnvNames({ MLFLOW_RUN_ID: "x", OK: "1", CUDA_VISIBLE_DEVICES: "0" })).toEqual([
      "MLFLOW_RUN_ID",
      "CUDA_VISIBLE_DEVICES",
    ]);
    expect(resolveCommand(["python", "-c", "1"], "/usr/bin/python3")).toEqual([
      "/usr/bin/python3",
      "-c",
      "1",
    ]);
    expect(resolveCommand(["python3", "x.py"], "/venv/bin/python")).toEqual(["/venv/bin/python", "x.py"]);
    expect(resolveCommand(["sh", "python"], "/usr/bin/python3")).toEqual(["sh", "python"]);
    expect(resolveCommand(["python"], null)).toEqual(["python"]);
  });
});
