import { describe, expect, it } from "vitest";
import type { ReplicaSpec } from "../runtime.js";
import { planSbatch, timeLimitMinutes } from "./sbatch-plan.js";

function rankSpec(rank: number, nodes: number, perNode: number): ReplicaSpec {
  return {
    jobId: "job1",
    attempt: 2,
    replicaIndex: rank,
    command: ["python", "train.py"],
    env: {},
    resources: { cpu: 3.5, memoryMiB: 8000, gpus: 2, gpuType: "h100" },
    timeoutSeconds: 3600,
    rank: {
      rank,
      localRank: rank % perNode,
      nodeRank: Math.floor(rank / perNode),
      worldSize: nodes * perNode,
      localWorldSize: perNode,
      nodes,
    },
  };
}

const base = {
  python: "/usr/bin/python3",
  wrapperPath: "/shared/bin/mlops-rank-wrapper.py",
  runsDir: "/shared/runs",
  jobDir: "/shared/jobs/job1",
  batchOutput: "/shared/gangs/job1.a2.r0/batch.out",
  scontrol: "scontrol",
  path: "/usr/bin:/bin",
  graceMs: 10_000,
};

describe("sbatch plan", () => {
  it("makes one allocation: nodes, tasks per node, gres per node, cpus, memory per node, time, user", () => {
    const specs = [0, 1, 2, 3].map((rank) => rankSpec(rank, 2, 2));
    const plan = planSbatch({
      ...base,
      specs,
      replicaIds: specs.map((s) => `job1.a2.r${s.replicaIndex}`),
      partition: "gpu",
      account: "vision",
      jobUser: { uid: 1001, gid: 1001 },
    });
    expect(plan.args).toEqual([
      "--job-name=mlops-job1.a2",
      "--nodes=2",
      "--ntasks-per-node=2",
      "--ntasks=4",
      "--cpus-per-task=4",
      "--mem=16000M",
      "--gres=gpu:h100:4",
      "--time=62",
      "--partition=gpu",
      "--account=vision",
      "--uid=1001",
      "--gid=1001",
      "--export=NONE",
      "--chdir=/shared/jobs/job1",
      "--output=/shared/gangs/job1.a2.r0/batch.out",
      "--error=/shared/gangs/job1.a2.r0/batch.out",
    ]);
    expect(plan.script).toContain('scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1');
    expect(plan.script).toContain(
      "exec srun --export=ALL --kill-on-bad-exit=0 --nodes=2 --ntasks=4 --ntasks-per-node=2 --cpus-per-task=4 /usr/bin/python3 /shared/bin/mlops-rank-wrapper.py /shared/runs job1.a2.r0 job1.a2.r1 job1.a2.r2 job1.a2.r3",
    );
  });

  it("a single replica without GPUs or timeout asks for neither", () => {
    const spec: ReplicaSpec = {
      ...rankSpec(0, 1, 1),
      rank: undefined,
      resources: { cpu: 0.5, memoryMiB: 100, gpus: 0 },
      timeoutSeconds: null,
    };
    const plan = planSbatch({ ...base, specs: [spec], replicaIds: ["job1.a2.r0"] });
    expect(plan.args.some((arg) => arg.startsWith("--gres") || arg.startsWith("--time"))).toBe(false);
    expect(plan.args).toContain("--cpus-per-task=1");
  });

  it("refuses a layout that does not match the replicas, and ranks with different GPUs", () => {
    const specs = [0, 1].map((rank) => rankSpec(rank, 2, 2));
    expect(() => planSbatch({ ...base, specs, replicaIds: ["a", "b"] })).toThrow(/does not match/);
    const mixed = [rankSpec(0, 1, 2), { ...rankSpec(1, 1, 2), resources: { cpu: 1, memoryMiB: 1, gpus: 1 } }];
    expect(() => planSbatch({ ...base, specs: mixed, replicaIds: ["a", "b"] })).toThrow(/same GPUs/);
  });

  it("the Slurm time limit lies beyond timeout + grace, in whole minutes", () => {
    expect(timeLimitMinutes(1, 500)).toBe(2);
    expect(timeLimitMinutes(3600, 10_000)).toBe(62);
  });
});
