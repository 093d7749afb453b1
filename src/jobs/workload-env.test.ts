import { describe, expect, it } from "vitest";
import { createJob } from "./job.js";
import { reservedEnvNames, workloadEnv } from "./workload-env.js";

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

  it("sets the platform's names, keeps the user's variables, leaves the runtime's names to the runtime", () => {
    const env = workloadEnv({ job, replicaIndex: 3, apiUrl: "http://cp:1", token: "tok" });
    expect(env).toMatchObject({
      MLOPS_API_URL: "http://cp:1",
      MLOPS_TOKEN: "tok",
      MLOPS_JOB_ID: "job-1",
      MLOPS_RUN_ID: job.runId,
      MLOPS_REPLICA_INDEX: "3",
      MLFLOW_TRACKING_URI: "http://cp:1",
      MLFLOW_TRACKING_TOKEN: "tok",
      MLFLOW_RUN_ID: job.runId,
      MLFLOW_EXPERIMENT_ID: "7",
      PYTHONPATH: "lib",
      PYTHONUNBUFFERED: "1",
      FOO: "bar",
    });
    for (const name of ["CUDA_VISIBLE_DEVICES", "MLOPS_OUTPUT_DIR", "RANK", "MASTER_PORT", "HOME"]) {
      expect(env[name]).toBeUndefined();
    }
  });

  it("refuses user variables the platform or the runtime owns", () => {
    expect(
      reservedEnvNames({ MLFLOW_RUN_ID: "x", OK: "1", CUDA_VISIBLE_DEVICES: "0", RANK: "1", HOME: "/" }),
    ).toEqual(["MLFLOW_RUN_ID", "CUDA_VISIBLE_DEVICES", "RANK", "HOME"]);
  });
});
