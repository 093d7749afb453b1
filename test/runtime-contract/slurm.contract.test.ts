import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LocalArtifactStore } from "../../src/artifacts/local-artifact-store.js";
import { loadConfig } from "../../src/config.js";
import type { ReplicaSpec, Runtime } from "../../src/runtime/runtime.js";
import { createSlurmBackend } from "../../src/runtime/slurm/slurm-backend.js";
import { startSlurmCluster } from "../support/slurm.js";
import { packContractCode, runtimeContractSuite } from "./contract-suite.js";

/**
 * The contract suite on the Slurm runtime against a real, private Slurm cluster (test/support/slurm.ts).
 * No skip: where Slurm cannot start (no slurm-wlm/munge, not root), setup fails. Workspaces (ports,
 * volumes, login user) are not offered by the Slurm runtime yet; usage() is covered by
 * test/runtime-slurm.test.ts (sstat samples once a second, too coarse for this suite's 500 ms window).
 */
runtimeContractSuite("slurm", async () => {
  const cluster = await startSlurmCluster({ gpus: 4 });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "contract-slurm-"));
  const artifacts = await LocalArtifactStore.create({ dataDir });
  const config = loadConfig({
    env: {
      MLOPS_DATA_DIR: dataDir,
      MLOPS_RUNTIME: "slurm",
      MLOPS_SLURM_CONF: cluster.conf,
      MLOPS_SLURM_WORK_DIR: cluster.workDir,
      MLOPS_SLURM_PARTITION: cluster.partition,
      MLOPS_CLUSTER_PYTHON: "/usr/bin/python3",
    },
  });
  const open = async (): Promise<Runtime> =>
    (
      await createSlurmBackend(
        { config, artifacts, apiUrl: () => "http://127.0.0.1:1" },
        { pollIntervalMs: 100, defaultGraceMs: 2000 },
      )
    ).runtime;
  const code = await packContractCode(artifacts, dataDir);
  let latest = await open();
  return {
    runtime: latest,
    restart: async () => {
      latest = await open();
      return latest;
    },
    specFor: (partial): ReplicaSpec => ({
      attempt: 0,
      replicaIndex: 0,
      env: {},
      resources: { cpu: 1, memoryMiB: 256, gpus: 0 },
      timeoutSeconds: null,
      ...partial,
    }),
    cleanup: async () => {
      for (const status of await latest.reconcile()) {
        if (!status.exit) await latest.stop(status.replicaId, { graceMs: 0 });
      }
      await latest.close();
      await cluster.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    capabilities: { workspaces: false, usage: false },
    code,
    slackMs: 5000,
  };
});
