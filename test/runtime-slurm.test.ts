import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../src/artifacts/code-archive.js";
import { LocalArtifactStore } from "../src/artifacts/local-artifact-store.js";
import { loadConfig } from "../src/config.js";
import type { WorkloadBackend } from "../src/runtime/backend.js";
import type { LogChunk, ReplicaSpec } from "../src/runtime/runtime.js";
import { createSlurmBackend } from "../src/runtime/slurm/slurm-backend.js";
import type { SlurmRuntime } from "../src/runtime/slurm/slurm-runtime.js";
import { type SlurmCluster, startSlurmCluster } from "./support/slurm.js";

/**
 * The Slurm backend on a real, private Slurm cluster (test/support/slurm.ts): slurmctld + slurmd + munged
 * started for this file, GPUs declared through gres on mknod'ed devices. Under CI=true nothing skips: if
 * the cluster cannot start, beforeAll fails.
 */
let cluster: SlurmCluster;
let backend: WorkloadBackend;
let runtime: SlurmRuntime;
let artifacts: LocalArtifactStore;
let dataDir: string;

function backendFor(extra: Record<string, string> = {}): Promise<WorkloadBackend> {
  const config = loadConfig({
    env: {
      MLOPS_DATA_DIR: dataDir,
      MLOPS_RUNTIME: "slurm",
      MLOPS_SLURM_CONF: cluster.conf,
      MLOPS_SLURM_WORK_DIR: cluster.workDir,
      MLOPS_SLURM_PARTITION: cluster.partition,
      MLOPS_CLUSTER_PYTHON: "/usr/bin/python3",
      ...extra,
    },
  });
  return createSlurmBackend(
    { config, artifacts, apiUrl: () => "http://127.0.0.1:1" },
    { pollIntervalMs: 100, defaultGraceMs: 2000 },
  );
}

let seq = 0;
function spec(command: string[], extra: Partial<ReplicaSpec> = {}): ReplicaSpec {
  seq += 1;
  return {
    jobId: `slurmtest${seq}`,
    attempt: 0,
    replicaIndex: 0,
    command,
    env: {},
    resources: { cpu: 1, memoryMiB: 256, gpus: 0 },
    timeoutSeconds: 60,
    ...extra,
  };
}

async function collect(stream: AsyncIterable<LogChunk>): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  for await (const chunk of stream) out[chunk.stream] += chunk.data.toString();
  return out;
}

async function squeueActive(): Promise<string[]> {
  return (await cluster.cli("squeue", ["-h", "-o", "%i"])).split("\n").filter((line) => line.trim() !== "");
}

beforeAll(async () => {
  cluster = await startSlurmCluster({ gpus: 4, gpuType: "h100" });
  dataDir = mkdtempSync(path.join(os.tmpdir(), "slurm-data-"));
  artifacts = await LocalArtifactStore.create({ dataDir });
  backend = await backendFor();
  runtime = backend.runtime as SlurmRuntime;
}, 60_000);

afterAll(async () => {
  await backend?.close();
  await cluster?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("Slurm backend on a real cluster", () => {
  it("reads the inventory from scontrol: one node, four h100 by gres", async () => {
    const inventory = await backend.refreshInventory!();
    expect(inventory.source).toBe("detected");
    expect(inventory.nodes).toHaveLength(1);
    const [node] = inventory.nodes;
    expect(node.id).toBe(cluster.nodeName);
    expect(node.cpu).toBe(8);
    expect(node.gpus.map((gpu) => gpu.uuid)).toEqual(
      [0, 1, 2, 3].map((n) => `SLURM-${cluster.nodeName}-h100-${n}`),
    );
    expect(runtime.describe()).toMatchObject({ name: "slurm", sandbox: "cluster", placement: "cluster" });
  });

  it("runs a 1-GPU replica: exit code, both log streams, Slurm's CUDA_VISIBLE_DEVICES, job dir env", async () => {
    const handle = await runtime.start(
      spec(
        [
          "sh",
          "-c",
          'echo "cvd=$CUDA_VISIBLE_DEVICES home=$HOME out=$MLOPS_OUTPUT_DIR"; echo oops >&2; exit 3',
        ],
        {
          resources: { cpu: 1, memoryMiB: 256, gpus: 1, gpuType: "h100" },
        },
      ),
    );
    expect(handle.externalId).toMatch(/^\d+$/);
    const exit = await handle.exited;
    expect(exit).toMatchObject({ end: "exited", exitCode: 3, signal: null });
    const logs = await collect(runtime.logs(handle.replicaId));
    const jobDir = path.join(cluster.workDir, "jobs", handle.replicaId.split(".")[0]);
    expect(logs.stdout).toBe(`cvd=0 home=${jobDir} out=${jobDir}/mlops-output\n`);
    expect(logs.stderr).toBe("oops\n");
    const shown = await cluster.cli("scontrol", ["show", "job", "-o", handle.externalId!]);
    expect(shown).toMatch(/TresPerNode=(gres:)?gpu:h100:1/);
  });

  it("brings code through the shared work dir and puts the SDK on PYTHONPATH", async () => {
    const packed = await packDirectory(path.join(import.meta.dirname, "fixtures", "workloads"));
    const stored = await artifacts.put(packed.stream);
    const handle = await runtime.start(
      spec(
        [
          "python",
          "-c",
          "import mlops_sdk, os; print(sorted(os.listdir('.'))[:2]); print(mlops_sdk.__name__)",
        ],
        {
          codeDigest: stored.sha256,
        },
      ),
    );
    const exit = await handle.exited;
    const logs = await collect(runtime.logs(handle.replicaId));
    expect(exit.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toBe("['crash.sh', 'fork-orphans.sh']\nmlops_sdk\n");
  });

  it("runs a 2-rank DDP (gloo) gang as one allocation whose ranks agree", async () => {
    const script = [
      "import os, torch, torch.distributed as dist",
      "dist.init_process_group('gloo')",
      "t = torch.tensor([float(dist.get_rank() + 1)])",
      "dist.all_reduce(t)",
      "print(f\"rank={os.environ['RANK']} local={os.environ['LOCAL_RANK']} world={os.environ['WORLD_SIZE']} master={os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} cvd={os.environ['CUDA_VISIBLE_DEVICES']} sum={t.item()}\")",
      "dist.destroy_process_group()",
    ].join("\n");
    const base = spec(["python", "-c", script], {
      resources: { cpu: 1, memoryMiB: 512, gpus: 1, gpuType: "h100" },
    });
    const specs = [0, 1].map((rank) => ({
      ...base,
      replicaIndex: rank,
      rank: { rank, localRank: rank, nodeRank: 0, worldSize: 2, localWorldSize: 2, nodes: 1 },
    }));
    const handles = await runtime.startGang(specs);
    expect(new Set(handles.map((h) => h.externalId)).size).toBe(1);
    const shown = await cluster.cli("scontrol", ["show", "job", "-o", handles[0].externalId!]);
    expect(shown).toMatch(/NumTasks=2 /);
    const exits = await Promise.all(handles.map((h) => h.exited));
    const outputs = await Promise.all(handles.map((h) => collect(runtime.logs(h.replicaId))));
    for (const [rank, exit] of exits.entries()) expect(exit.exitCode, outputs[rank].stderr).toBe(0);
    const lines = outputs.map((o) => o.stdout.trim());
    const port = 20000 + (Number(handles[0].externalId) % 20000);
    expect(lines).toEqual([
      `rank=0 local=0 world=2 master=${cluster.nodeName}:${port} cvd=0 sum=3.0`,
      `rank=1 local=1 world=2 master=${cluster.nodeName}:${port} cvd=1 sum=3.0`,
    ]);
  }, 60_000);

  it("stop: TERM, then KILL after the grace for a rank that ignores TERM; the allocation is gone", async () => {
    const handle = await runtime.start(
      spec(["sh", "-c", "trap '' TERM; echo ready; sleep 4711 & wait; sleep 4711"]),
    );
    await waitForLog(handle.replicaId, "ready");
    const started = Date.now();
    const exit = await runtime.stop(handle.replicaId, { graceMs: 1000 });
    expect(exit).toMatchObject({ end: "stopped", signal: "SIGKILL", exitCode: null });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await squeueActive()).not.toContain(handle.externalId);
    // Every process of the rank is gone, also the background child that ignored TERM too.
    expect(execFileSync("ps", ["-eo", "args"]).toString()).not.toMatch(/^sleep 4711/m);
  }, 30_000);

  it("usage: sstat samples memory and CPU of a running rank; null once it ended", async () => {
    const handle = await runtime.start(
      spec(["python", "-c", "x = bytearray(50 << 20)\nprint('busy', flush=True)\nwhile True: pass"]),
    );
    await waitForLog(handle.replicaId, "busy");
    await runtime.usage(handle.replicaId);
    await new Promise((r) => setTimeout(r, 2500));
    const usage = await runtime.usage(handle.replicaId);
    expect(usage?.memoryBytes).toBeGreaterThan(40 * 1024 * 1024);
    // CPU comes from the cluster's JobAcctGather plugin, as a rate between the two samples; this sandboxed
    // test host reports no CPU time to it, so only its presence is checked here.
    expect(usage?.cpuCores).toBeGreaterThanOrEqual(0);
    await runtime.stop(handle.replicaId, { graceMs: 200 });
    expect(await runtime.usage(handle.replicaId)).toBeNull();
  }, 30_000);

  it("timeout: the wrapper ends the rank at its timeout, recorded as timeout, and Slurm's job ends", async () => {
    const handle = await runtime.start(spec(["sleep", "30"], { timeoutSeconds: 1, graceMs: 500 }));
    const exit = await handle.exited;
    expect(exit).toMatchObject({ end: "timeout", signal: "SIGTERM" });
    expect(exit.durationMs).toBeLessThan(5000);
    await expectEventually(async () => !(await squeueActive()).includes(handle.externalId!));
  }, 30_000);

  it("masks the job token in stored logs", async () => {
    const handle = await runtime.start(
      spec(["sh", "-c", "printf 'tok=%s\\n' \"$TOKEN\"; printf 'part=%s' \"$TOKEN\""], {
        env: { TOKEN: "s3cr3t-value" },
        maskInLogs: ["s3cr3t-value"],
      }),
    );
    await handle.exited;
    expect((await collect(runtime.logs(handle.replicaId))).stdout).toBe("tok=***\npart=***");
  });

  it("after a control-plane restart, reconcile finds a running rank and a new instance gets its exit", async () => {
    const handle = await runtime.start(spec(["sh", "-c", "sleep 8; exit 4"]));
    const early = await runtime.start(spec(["sh", "-c", "exit 5"]));
    await runtime.close();
    await early.exited.catch(() => undefined);
    const restarted = await backendFor();
    try {
      const statuses = await restarted.runtime.reconcile();
      const running = statuses.find((s) => s.replicaId === handle.replicaId);
      expect(running?.state).toBe("running");
      expect(running?.externalId).toBe(handle.externalId);
      await expectEventually(async () => {
        const again = await restarted.runtime.reconcile();
        return again.find((s) => s.replicaId === early.replicaId)?.exit?.exitCode === 5;
      });
      const exit = await restarted.runtime.wait(handle.replicaId);
      expect(exit).toMatchObject({ end: "exited", exitCode: 4 });
      await expect(restarted.runtime.remove(handle.replicaId)).resolves.toBeUndefined();
      expect((await restarted.runtime.reconcile()).some((s) => s.replicaId === handle.replicaId)).toBe(false);
    } finally {
      backend = restarted;
      runtime = restarted.runtime as SlurmRuntime;
    }
  }, 30_000);

  it("runs jobs as the configured unprivileged user", async () => {
    const asNobody = await backendFor({ MLOPS_SLURM_JOB_USER: "nobody" });
    try {
      const handle = await asNobody.runtime.start(
        spec(["sh", "-c", "id -u; touch $MLOPS_OUTPUT_DIR/written && echo ok"]),
      );
      const exit = await handle.exited;
      const logs = await collect(asNobody.runtime.logs(handle.replicaId));
      expect(exit.exitCode, logs.stderr).toBe(0);
      expect(logs.stdout).toBe("65534\nok\n");
    } finally {
      await asNobody.close();
    }
  });

  it("a rank wrapper that cannot start fails start() with Slurm's reason, nothing left queued", async () => {
    const broken = await backendFor({ MLOPS_CLUSTER_PYTHON: "/nonexistent/python3" });
    try {
      const failing = spec(["true"]);
      await expect(broken.runtime.start(failing)).rejects.toThrow(/before its ranks started.*nonexistent/s);
      expect((await broken.runtime.reconcile()).some((s) => s.jobId === failing.jobId)).toBe(false);
      await expectEventually(async () => (await squeueActive()).length === 0);
    } finally {
      await broken.close();
    }
  });

  it("refuses what it cannot do, before anything reaches Slurm", async () => {
    const before = await squeueActive();
    await expect(runtime.start(spec(["sh", "-c", "true"], { network: "none" }))).rejects.toThrow(/network/);
    await expect(runtime.start(spec([]))).rejects.toThrow(/command/);
    const bad = spec(["true"]);
    await expect(runtime.startGang([bad, { ...bad, replicaIndex: 2 }])).rejects.toThrow(/missing/);
    expect((await squeueActive()).filter((id) => !before.includes(id))).toEqual([]);
  });
});

async function waitForLog(replicaId: string, text: string): Promise<void> {
  await expectEventually(async () => (await collect(runtime.logs(replicaId))).stdout.includes(text));
}

async function expectEventually(probe: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
