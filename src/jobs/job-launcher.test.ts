import { describe, expect, it } from "vitest";
import { parseGpuDeclaration } from "./gpu-inventory.js";
import { createJob } from "./job.js";
import { replicaSpecs, type SpecContext } from "./job-launcher.js";
import type { JobReplica } from "./job-store.js";

const devices = new Map(parseGpuDeclaration("h100:4").map((device) => [device.uuid, device]));

function replica(index: number, gpuUuids: string[]): JobReplica {
  return {
    replicaId: `j.a0.r${index}`,
    jobId: "j",
    attempt: 0,
    replicaIndex: index,
    nodeId: "local",
    cpu: 0.5,
    memoryMiB: 512,
    gpuUuids,
    state: "placed",
    pid: null,
    end: null,
    exitCode: null,
    signal: null,
    message: null,
    startedAt: null,
    endedAt: null,
    stdoutSha256: null,
    stderrSha256: null,
    endpoints: null,
  };
}

const context: SpecContext = { apiUrl: "http://cp", token: "secret-token", secretEnv: {}, devices };

describe("replicaSpecs", () => {
  const job = createJob(
    {
      projectId: "p",
      command: ["python", "train.py"],
      resources: { gpus: 2, gpuType: "h100", cpu: 1, memoryMiB: 1024 },
      distributed: { nodes: 2, procsPerNode: 2 },
      codeDigest: "a".repeat(64),
    },
    "j",
    new Date(0),
  );
  const placed = [3, 1, 0, 2].map((rank) => replica(rank, [`SIM-h100-${rank}`]));

  it("one spec per rank, in rank order, with its layout, its own devices and the job's code", () => {
    const specs = replicaSpecs(job, placed, context);
    expect(specs.map((spec) => spec.rank)).toEqual([
      { rank: 0, localRank: 0, nodeRank: 0, worldSize: 4, localWorldSize: 2, nodes: 2 },
      { rank: 1, localRank: 1, nodeRank: 0, worldSize: 4, localWorldSize: 2, nodes: 2 },
      { rank: 2, localRank: 0, nodeRank: 1, worldSize: 4, localWorldSize: 2, nodes: 2 },
      { rank: 3, localRank: 1, nodeRank: 1, worldSize: 4, localWorldSize: 2, nodes: 2 },
    ]);
    expect(specs.map((spec) => spec.resources.devices?.map((device) => device.index))).toEqual([
      [0],
      [1],
      [2],
      [3],
    ]);
    expect(specs[2]).toMatchObject({
      jobId: "j",
      replicaIndex: 2,
      node: "local",
      kind: "job",
      codeDigest: "a".repeat(64),
      command: ["python", "train.py"],
      resources: { cpu: 0.5, memoryMiB: 512, gpus: 1, gpuType: "h100" },
      maskInLogs: ["secret-token"],
    });
    expect(specs[2].env.MLOPS_REPLICA_INDEX).toBe("2");
    expect(specs[2].env.CUDA_VISIBLE_DEVICES).toBeUndefined();
  });

  it("leaves devices and nodes to a cluster that places, and refuses a partial gang", () => {
    const specs = replicaSpecs(job, placed, { ...context, devices: null });
    expect(specs.every((spec) => spec.resources.devices === undefined && spec.node === undefined)).toBe(true);
    expect(specs[0].resources.gpus).toBe(1);
    expect(() => replicaSpecs(job, placed.slice(1), context)).toThrow(/3 placed replicas for 4 ranks/);
  });

  it("a plain job has no rank layout; internal fields pass through", () => {
    const plain = createJob(
      { projectId: "p", command: ["sshd"], kind: "workspace", ports: [{ name: "ssh" }] },
      "w",
      new Date(0),
    );
    const [spec] = replicaSpecs(plain, [replica(0, [])], context);
    expect(spec.rank).toBeUndefined();
    expect(spec).toMatchObject({ kind: "workspace", ports: [{ name: "ssh" }], resources: { devices: [] } });
  });
});
