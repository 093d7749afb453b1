import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { createJob, isTerminal, rankResources, totalGpus } from "./job.js";

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

  it("counts one replica per rank (nodes x procsPerNode) and lower-cases the GPU type", () => {
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
    expect(job.replicas).toBe(6);
    expect(job.resources.gpuType).toBe("h100");
    expect(totalGpus(job)).toBe(6);
    expect(rankResources(job.resources, 2)).toEqual({ cpu: 0.5, memoryMiB: 1024, gpus: 1, gpuType: "h100" });
  });

  it("splits odd CPU and memory to whole millicores and MiB per rank", () => {
    expect(rankResources({ cpu: 1, memoryMiB: 1000, gpus: 0 }, 3)).toEqual({
      cpu: 0.333,
      memoryMiB: 333,
      gpus: 0,
    });
  });

  it("keeps internal fields only when valid", () => {
    const job = createJob(
      {
        projectId: "p",
        command: ["sshd"],
        kind: "workspace",
        ports: [{ name: "ssh" }],
        volumes: [{ name: "ws-1-home", mountPath: "/home/ana" }],
        user: { name: "ana", home: "/home/ana" },
      },
      "w",
      now,
    );
    expect(job).toMatchObject({ kind: "workspace", ports: [{ name: "ssh" }], user: { name: "ana" } });
    expect(() =>
      createJob({ projectId: "p", command: ["x"], volumes: [{ name: "../x", mountPath: "/a" }] }, "j", now),
    ).toThrow(/volume name/);
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
    [
      { command: ["x"], resources: { gpus: 2 }, distributed: { nodes: 1, procsPerNode: 4 } },
      /resources.gpus \(2 per node\) must divide evenly among procsPerNode \(4\)/,
    ],
    [{ command: ["x"], distributed: { nodes: 64, procsPerNode: 64 } }, /4096 ranks; at most 1024/],
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
