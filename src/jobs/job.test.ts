import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { createJob, isTerminal, totalGpus } from "./job.js";

const now = new Date("2024-01-01T00:00:00Z");

describe("createJob", () => {
  it("fills defaults and starts queued at attempt 0", () => {
    const job = createJob({ projectId: "p", command: ["python", "train.py"] }, "j1", now);
    expect(job).toMatchObject({
      id: "j1",
      state: "queued",
      attempt: 0,
      replicas: 1,
      priority: 0,
      maxRetries: 0,
      timeoutSeconds: null,
      resources: { cpu: 1, memoryMiB: 2048, gpus: 0 },
      name: "python train.py",
      submittedAt: now.toISOString(),
    });
    expect(job.resources.gpuType).toBeUndefined();
  });

  // The model only: `distributed` sizes the gang the scheduler places (one replica per node). Launching
  // procsPerNode ranks per replica is the runtime's job (docs/jobs-and-workloads.md) and is not claimed here.
  it("derives replicas from the distributed spec and lower-cases the GPU type", () => {
    const job = createJob(
      {
        projectId: "p",
        command: ["python", "x.py"],
        resources: { gpus: 2, gpuType: "H100" },
        distributed: { nodes: 3, procsPerNode: 2 },
      },
      "j2",
      now,
    );
    expect(job.replicas).toBe(3);
    expect(job.resources.gpuType).toBe("h100");
    expect(totalGpus(job)).toBe(6);
  });

  it.each([
    [{ command: [] }, /command/],
    [{ command: ["x"], env: { "BAD-NAME": "1" } }, /environment variable name/],
    [{ command: ["x"], resources: { cpu: 0 } }, /cpu/],
    [{ command: ["x"], resources: { gpus: 1.5 } }, /gpus/],
    [{ command: ["x"], resources: { gpuType: "h100" } }, /needs resources.gpus/],
    [{ command: ["x"], maxRetries: -1 }, /maxRetries/],
    [{ command: ["x"], timeoutSeconds: 0 }, /timeoutSeconds/],
    [{ command: ["x"], distributed: { nodes: 0, procsPerNode: 1 } }, /distributed.nodes/],
  ])("rejects %j", (request, message) => {
    expect(() => createJob({ projectId: "p", ...request }, "j", now)).toThrow(InputError);
    expect(() => createJob({ projectId: "p", ...request }, "j", now)).toThrow(message);
  });

  it("knows terminal states", () => {
    expect(isTerminal("succeeded")).toBe(true);
    expect(isTerminal("cancelled")).toBe(true);
    expect(isTerminal("running")).toBe(false);
  });
});
