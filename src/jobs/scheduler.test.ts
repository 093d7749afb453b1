import { describe, expect, it } from "vitest";
import { parseGpuDeclaration } from "./gpu-inventory.js";
import type { JobResources } from "./job.js";
import {
  holdsForPlacement,
  localNode,
  type Placement,
  type QueuedJob,
  type ResourceHold,
  type ScheduleInput,
  type ScheduleResult,
  scheduleQueuedJobs,
} from "./scheduler.js";
import { syntheticScheduleInput } from "../../test/support/synthetic-queue.js";

const NOW = 1_700_000_000_000;
let seq = 0;

function job(id: string, resources: Partial<JobResources>, extra: Partial<QueuedJob> = {}): QueuedJob {
  return {
    id,
    projectId: "p",
    priority: 0,
    submittedAt: NOW - 60_000 + seq++,
    nodes: 1,
    resources: { cpu: 1, memoryMiB: 1024, gpus: 0, ...resources },
    ...extra,
  };
}

function input(queue: QueuedJob[], extra: Partial<ScheduleInput> = {}): ScheduleInput {
  return {
    queue,
    nodes: [localNode(parseGpuDeclaration("h100:4"), 16, 65536)],
    holds: [],
    now: NOW,
    ...extra,
  };
}

const placedIds = (result: ScheduleResult) => result.placements.map((p) => p.jobId);
const uuidsOf = (placement: Placement) => placement.replicas.flatMap((r) => r.gpus.map((g) => g.uuid));

describe("scheduleQueuedJobs", () => {
  it("six 1-GPU jobs on 4 x h100: four placed on disjoint devices, two wait with a reason", () => {
    const queue = ["a", "b", "c", "d", "e", "f"].map((id) => job(id, { gpus: 1, gpuType: "h100" }));
    const result = scheduleQueuedJobs(input(queue));
    expect(placedIds(result)).toEqual(["a", "b", "c", "d"]);
    const devices = result.placements.flatMap(uuidsOf);
    expect(new Set(devices).size).toBe(4);
    expect(result.placements.map((p) => p.replicas[0].gpus[0].index)).toEqual([0, 1, 2, 3]);
    expect([...result.reasons.keys()]).toEqual(["e", "f"]);
    expect(result.reasons.get("e")).toBe("waiting for 1 h100 GPU, 1 CPU, 1024 MiB: 0 of 1 h100 GPUs free");
  });

  it("never gives a 2-GPU job one GPU, and never touches held devices", () => {
    const all = parseGpuDeclaration("h100:4");
    const holds: ResourceHold[] = [
      {
        workloadId: "x",
        projectId: "q",
        nodeId: "local",
        cpu: 1,
        memoryMiB: 1,
        gpuUuids: [all[0].uuid, all[2].uuid],
      },
      { workloadId: "y", projectId: "q", nodeId: "local", cpu: 1, memoryMiB: 1, gpuUuids: [all[3].uuid] },
    ];
    const result = scheduleQueuedJobs(input([job("two", { gpus: 2 }), job("one", { gpus: 1 })], { holds }));
    expect(placedIds(result)).toEqual(["one"]);
    expect(uuidsOf(result.placements[0])).toEqual([all[1].uuid]);
    expect(result.reasons.get("two")).toMatch(/1 of 2 GPUs of one type free/);
  });

  it("places a gang of nodes all at once or not at all", () => {
    const gang = job("gang", { gpus: 2, gpuType: "h100" }, { nodes: 2 });
    const blocked = scheduleQueuedJobs(
      input([gang], {
        holds: [
          {
            workloadId: "x",
            projectId: "q",
            nodeId: "local",
            cpu: 1,
            memoryMiB: 1,
            gpuUuids: ["SIM-h100-0"],
          },
        ],
      }),
    );
    expect(blocked.placements).toEqual([]);
    expect(blocked.reasons.get("gang")).toMatch(/2 nodes of .* at once; only 1 fit now/);
    const free = scheduleQueuedJobs(input([gang, job("after", { gpus: 1 })]));
    expect(free.placements[0].replicas.map((r) => r.gpus.length)).toEqual([2, 2]);
    expect(new Set(uuidsOf(free.placements[0])).size).toBe(4);
    expect(free.reasons.get("after")).toMatch(/0 of 1 GPUs of one type free/);
  });

  it("splits a node's GPUs among its ranks: distinct devices in index order, CPU and memory shared", () => {
    const ranks = job("ddp", { gpus: 4, gpuType: "h100", cpu: 2, memoryMiB: 4096 }, { procsPerNode: 4 });
    const result = scheduleQueuedJobs(input([ranks]));
    const placed = result.placements[0].replicas;
    expect(placed.map((r) => r.replicaIndex)).toEqual([0, 1, 2, 3]);
    expect(placed.map((r) => r.gpus.map((g) => g.index))).toEqual([[0], [1], [2], [3]]);
    expect(placed.map((r) => [r.nodeId, r.cpu, r.memoryMiB])).toEqual(Array(4).fill(["local", 0.5, 1024]));
    // Holds add up to exactly the node's share that was taken.
    const holds = holdsForPlacement(result.placements[0]);
    expect(holds.reduce((sum, hold) => sum + hold.cpu, 0)).toBe(2);
    expect(holds.reduce((sum, hold) => sum + hold.memoryMiB, 0)).toBe(4096);
  });

  it("2 nodes x 2 ranks of 1 GPU: ranks 0-1 share node 0's devices, 2-3 node 1's", () => {
    const nodes = [
      { id: "n0", cpu: 8, memoryMiB: 8192, gpus: parseGpuDeclaration("h100:2") },
      {
        id: "n1",
        cpu: 8,
        memoryMiB: 8192,
        gpus: parseGpuDeclaration("h100:2").map((g) => ({ ...g, uuid: `${g.uuid}-n1` })),
      },
    ];
    const gang = job("mn", { gpus: 2, gpuType: "h100" }, { nodes: 2, procsPerNode: 2 });
    const result = scheduleQueuedJobs(input([gang], { nodes }));
    const placed = result.placements[0].replicas;
    expect(placed.map((r) => [r.replicaIndex, r.nodeId, r.gpus[0].uuid])).toEqual([
      [0, "n0", "SIM-h100-0"],
      [1, "n0", "SIM-h100-1"],
      [2, "n1", "SIM-h100-0-n1"],
      [3, "n1", "SIM-h100-1-n1"],
    ]);
  });

  it("a gang node larger than every node waits, saying what the largest node has", () => {
    const big = job("five", { gpus: 5, gpuType: "h100" }, { procsPerNode: 5 });
    const result = scheduleQueuedJobs(input([big, job("small", { gpus: 1 })]));
    expect(result.reasons.get("five")).toBe(
      "cannot run on the current inventory: needs 5 h100 GPUs on one node, the largest node has 4",
    );
    expect(placedIds(result)).toEqual(["small"]);
    const wide = scheduleQueuedJobs(input([job("wide", { gpus: 3, gpuType: "h100" }, { nodes: 2 })]));
    expect(wide.reasons.get("wide")).toMatch(
      /cannot run on the current inventory: needs 2 nodes .* at most 1 fit/,
    );
  });

  it("gives a typed request devices of that type only", () => {
    const nodes = [localNode(parseGpuDeclaration("a100:2,h100:2"), 16, 65536)];
    const result = scheduleQueuedJobs(input([job("h", { gpus: 2, gpuType: "h100" })], { nodes }));
    expect(result.placements[0].replicas[0].gpus.map((g) => g.uuid)).toEqual(["SIM-h100-0", "SIM-h100-1"]);
  });

  it("orders by priority, then FIFO", () => {
    const queue = [
      job("old-low", { gpus: 1 }),
      job("old-high", { gpus: 1 }, { priority: 5 }),
      job("new-low", { gpus: 1 }),
      job("new-high", { gpus: 1 }, { priority: 5 }),
    ];
    const nodes = [localNode(parseGpuDeclaration("h100:3"), 16, 65536)];
    const result = scheduleQueuedJobs(input([...queue].reverse(), { nodes }));
    expect(placedIds(result)).toEqual(["old-high", "new-high", "old-low"]);
    expect(result.reasons.has("new-low")).toBe(true);
  });

  it("backfills a small job past a blocked big one, until the big one has waited too long", () => {
    const holds: ResourceHold[] = [
      {
        workloadId: "x",
        projectId: "q",
        nodeId: "local",
        cpu: 1,
        memoryMiB: 1,
        gpuUuids: ["SIM-h100-0", "SIM-h100-1"],
      },
    ];
    const big = job("big", { gpus: 4 }, { priority: 5, submittedAt: NOW - 10 * 60_000 });
    const small = job("small", { gpus: 1 });
    const backfilled = scheduleQueuedJobs(
      input([big, small], { holds, policy: { reserveAfterMs: 3_600_000 } }),
    );
    expect(placedIds(backfilled)).toEqual(["small"]);
    expect(backfilled.reasons.get("big")).toMatch(/2 of 4 GPUs of one type free/);

    const guarded = scheduleQueuedJobs(
      input([big, small], { holds, policy: { reserveAfterMs: 5 * 60_000 } }),
    );
    expect(guarded.placements).toEqual([]);
    expect(guarded.reserved).toEqual(["big"]);
    expect(guarded.reasons.get("big")).toMatch(/held back for it \(waited 10m/);
    expect(guarded.reasons.get("small")).toMatch(/held back for job big/);
    // A CPU-only job does not compete for the GPUs held back and still starts.
    const cpuOnly = scheduleQueuedJobs(
      input([big, job("cpu", { cpu: 2 })], { holds, policy: { reserveAfterMs: 5 * 60_000 } }),
    );
    expect(placedIds(cpuOnly)).toEqual(["cpu"]);
  });

  it("enforces per-project GPU quotas without blocking other projects", () => {
    const quotas = new Map([
      ["p", { gpus: 2 }],
      ["r", { gpusByType: { h100: 1 } }],
    ]);
    const holds: ResourceHold[] = [
      { workloadId: "x", projectId: "p", nodeId: "local", cpu: 1, memoryMiB: 1, gpuUuids: ["SIM-h100-0"] },
    ];
    const queue = [
      job("p1", { gpus: 1 }),
      job("p2", { gpus: 1 }),
      job("r1", { gpus: 2, gpuType: "h100" }, { projectId: "r" }),
      job("r2", { gpus: 1, gpuType: "h100" }, { projectId: "r" }),
      job("r3", { gpus: 1 }, { projectId: "r" }),
      job("free", { gpus: 1 }, { projectId: "s" }),
    ];
    const result = scheduleQueuedJobs(input(queue, { holds, quotas }));
    expect(placedIds(result)).toEqual(["p1", "r2", "free"]);
    expect(result.reasons.get("p2")).toBe(
      "project p is at its GPU quota: 2 of 2 GPUs in use, this job needs 1",
    );
    expect(result.reasons.get("r1")).toMatch(/at its h100 quota: 0 of 1 in use, this job needs 2/);
    expect(result.reasons.get("r3")).toMatch(/at its h100 quota: 1 of 1/);
  });

  it("accounts CPU and memory, fractions included", () => {
    const nodes = [localNode([], 1, 4096)];
    const tenths = Array.from({ length: 11 }, (_, i) => job(`t${i}`, { cpu: 0.1, memoryMiB: 100 }));
    const result = scheduleQueuedJobs(input(tenths, { nodes }));
    expect(result.placements).toHaveLength(10);
    expect(result.reasons.get("t10")).toMatch(/0 of 0.1 CPU cores free/);

    const memory = scheduleQueuedJobs(
      input(
        [
          job("m1", { cpu: 0.1, memoryMiB: 3000 }),
          job("m2", { cpu: 0.1, memoryMiB: 3000 }),
          job("m3", { cpu: 0.1, memoryMiB: 1000 }),
        ],
        {
          nodes,
        },
      ),
    );
    expect(placedIds(memory)).toEqual(["m1", "m3"]);
    expect(memory.reasons.get("m2")).toMatch(/1096 of 3000 MiB memory free/);
  });

  it("explains a job that no node can hold any more, and warns about a device held twice", () => {
    const holds: ResourceHold[] = [
      { workloadId: "x", projectId: "p", nodeId: "local", cpu: 1, memoryMiB: 1, gpuUuids: ["SIM-h100-0"] },
      { workloadId: "y", projectId: "p", nodeId: "local", cpu: 1, memoryMiB: 1, gpuUuids: ["SIM-h100-0"] },
    ];
    const result = scheduleQueuedJobs(input([job("gone", { gpus: 1, gpuType: "a100" })], { holds }));
    expect(result.reasons.get("gone")).toMatch(
      /cannot run on the current inventory: needs 1 a100 GPUs on one node/,
    );
    expect(result.warnings).toEqual(["GPU SIM-h100-0 is held by both x and y"]);
  });

  it("keeps every invariant over 10,000 queued jobs", () => {
    const big = syntheticScheduleInput({ jobs: 10_000, seed: 7 });
    const result = scheduleQueuedJobs(big);
    expect(result.placements.length).toBeGreaterThan(3);
    expect(result.placements.length + result.reasons.size).toBe(10_000);
    const byId = new Map(big.queue.map((q) => [q.id, q]));
    const node = big.nodes[0];
    const holds = [...big.holds, ...result.placements.flatMap(holdsForPlacement)];
    // No device twice, and nothing over the node's capacity.
    const uuids = holds.flatMap((h) => h.gpuUuids);
    expect(new Set(uuids).size).toBe(uuids.length);
    expect(holds.reduce((s, h) => s + h.cpu, 0)).toBeLessThanOrEqual(node.cpu);
    expect(holds.reduce((s, h) => s + h.memoryMiB, 0)).toBeLessThanOrEqual(node.memoryMiB);
    // Each placement is exactly what the job asked, of the asked type, and within its project's quota.
    const typeOf = new Map(node.gpus.map((g) => [g.uuid, g.type]));
    for (const placement of result.placements) {
      const queued = byId.get(placement.jobId)!;
      expect(placement.replicas).toHaveLength(queued.nodes * (queued.procsPerNode ?? 1));
      for (const replica of placement.replicas) {
        expect(replica.gpus).toHaveLength(queued.resources.gpus);
        expect(new Set(replica.gpus.map((g) => g.type)).size).toBeLessThanOrEqual(1);
        if (queued.resources.gpuType)
          expect(replica.gpus.every((g) => g.type === queued.resources.gpuType)).toBe(true);
      }
    }
    for (const [project, quota] of big.quotas!) {
      const mine = holds.filter((h) => h.projectId === project).flatMap((h) => h.gpuUuids);
      if (quota.gpus !== undefined) expect(mine.length).toBeLessThanOrEqual(quota.gpus);
      for (const [type, limit] of Object.entries(quota.gpusByType ?? {})) {
        expect(mine.filter((u) => typeOf.get(u) === type).length).toBeLessThanOrEqual(limit);
      }
    }
    // Every waiting job says why.
    for (const reason of result.reasons.values()) expect(reason).toMatch(/^(waiting for|project|cannot run)/);
  });
});
