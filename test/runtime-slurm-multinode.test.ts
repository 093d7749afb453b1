import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalArtifactStore } from "../src/artifacts/local-artifact-store.js";
import { loadConfig } from "../src/config.js";
import type { WorkloadBackend } from "../src/runtime/backend.js";
import type { LogChunk, ReplicaSpec } from "../src/runtime/runtime.js";
import { createSlurmBackend } from "../src/runtime/slurm/slurm-backend.js";
import { type SlurmCluster, startSlurmCluster } from "./support/slurm.js";

/**
 * Two Slurm nodes (two slurmd on this host, `slurmd -N`, each with four gres GPUs): a 2-node x 2-rank DDP
 * gang is one allocation spanning both nodes; ranks get NODE_RANK from Slurm, the rendezvous is the first
 * node of the allocation, and each local rank its own slice of the node's GPUs.
 */
let cluster: SlurmCluster;
let backend: WorkloadBackend;
let dataDir: string;

beforeAll(async () => {
  cluster = await startSlurmCluster({ nodes: 2, gpus: 4 });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "slurm-multi-"));
  const config = loadConfig({
    env: {
      MLOPS_DATA_DIR: dataDir,
      MLOPS_RUNTIME: "slurm",
      MLOPS_SLURM_CONF: cluster.conf,
      MLOPS_SLURM_WORK_DIR: cluster.workDir,
      MLOPS_CLUSTER_PYTHON: "/usr/bin/python3",
    },
  });
  const artifacts = await LocalArtifactStore.create({ dataDir });
  backend = await createSlurmBackend(
    { config, artifacts, apiUrl: () => "http://127.0.0.1:1" },
    { pollIntervalMs: 100, defaultGraceMs: 2000 },
  );
}, 60_000);

afterAll(async () => {
  await backend?.close();
  await cluster?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function stdout(stream: AsyncIterable<LogChunk>): Promise<string> {
  let out = "";
  for await (const chunk of stream) if (chunk.stream === "stdout") out += chunk.data.toString();
  return out;
}

describe("Slurm backend on two nodes", () => {
  it("reads both nodes into the inventory", () => {
    expect(backend.inventory.nodes.map((node) => [node.id, node.gpus.length])).toEqual([
      [cluster.nodeNames[0], 4],
      [cluster.nodeNames[1], 4],
    ]);
  });

  it("runs a 2-node x 2-rank DDP (gloo) gang as one allocation across both nodes", async () => {
    const script = [
      "import os, torch, torch.distributed as dist",
      "dist.init_process_group('gloo')",
      "t = torch.tensor([float(dist.get_rank() + 1)])",
      "dist.all_reduce(t)",
      "e = os.environ",
      "print(e['RANK'], e['LOCAL_RANK'], e['NODE_RANK'], e['SLURMD_NODENAME'], e['MASTER_ADDR'], e['CUDA_VISIBLE_DEVICES'], t.item())",
    ].join("\n");
    const specs: ReplicaSpec[] = [0, 1, 2, 3].map((rank) => ({
      jobId: "multinode",
      attempt: 0,
      replicaIndex: rank,
      command: ["python", "-c", script],
      env: {},
      resources: { cpu: 1, memoryMiB: 512, gpus: 2, gpuType: "h100" },
      timeoutSeconds: 120,
      rank: {
        rank,
        localRank: rank % 2,
        nodeRank: Math.floor(rank / 2),
        worldSize: 4,
        localWorldSize: 2,
        nodes: 2,
      },
    }));
    const handles = await backend.runtime.startGang(specs);
    expect(new Set(handles.map((h) => h.externalId)).size).toBe(1);
    const exits = await Promise.all(handles.map((h) => h.exited));
    const lines = await Promise.all(
      handles.map(async (h) => (await stdout(backend.runtime.logs(h.replicaId))).trim()),
    );
    expect(
      exits.map((exit) => exit.exitCode),
      lines.join("\n"),
    ).toEqual([0, 0, 0, 0]);
    const [first, second] = cluster.nodeNames;
    expect(lines).toEqual([
      `0 0 0 ${first} ${first} 0,1 10.0`,
      `1 1 0 ${first} ${first} 2,3 10.0`,
      `2 0 1 ${second} ${first} 0,1 10.0`,
      `3 1 1 ${second} ${first} 2,3 10.0`,
    ]);
    const statuses = await backend.runtime.reconcile();
    expect(handles.map((h) => statuses.find((s) => s.replicaId === h.replicaId)?.node)).toEqual([
      first,
      first,
      second,
      second,
    ]);
  }, 90_000);
});
