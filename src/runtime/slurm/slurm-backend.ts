import { execFile } from "node:child_process";
import { cpSync, existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { WorkloadInventory } from "../../jobs/inventory.js";
import type { WorkloadBackend } from "../backend.js";
import type { BackendDeps } from "../backends.js";
import { RANK_WRAPPER_PY } from "./rank-wrapper.js";
import { SlurmCli } from "./slurm-cli.js";
import { SlurmRuntime } from "./slurm-runtime.js";
import { parseNodeInventory } from "./slurm-text.js";

const run = promisify(execFile);

export interface SlurmBackendOptions {
  pollIntervalMs?: number;
  defaultGraceMs?: number;
  startWaitMs?: number;
}

/**
 * Slurm backend (MLOPS_RUNTIME=slurm; docs/architecture/slurm.md). The control plane runs on a login
 * node: Slurm's CLI tools, the cluster's munge key, and the shared work dir (MLOPS_SLURM_WORK_DIR) mounted
 * at the same path as on the compute nodes. The inventory is Slurm's (per node and GPU type); the
 * platform admits (quotas, priorities, queue) and Slurm places.
 */
export async function createSlurmBackend(
  deps: BackendDeps,
  options: SlurmBackendOptions = {},
): Promise<WorkloadBackend> {
  const { config } = deps;
  if (!config.slurmWorkDir) {
    throw new Error(
      "MLOPS_RUNTIME=slurm needs MLOPS_SLURM_WORK_DIR: a directory every Slurm node mounts at the same path",
    );
  }
  if (!path.isAbsolute(config.slurmWorkDir)) throw new Error("MLOPS_SLURM_WORK_DIR must be an absolute path");
  const cli = new SlurmCli({ binDir: config.slurmBinDir, conf: config.slurmConf });
  const jobUser = config.slurmJobUser ? await resolveUser(config.slurmJobUser) : undefined;
  const runtime = new SlurmRuntime({
    cli,
    workDir: config.slurmWorkDir,
    artifacts: deps.artifacts,
    python: config.clusterPython ?? "python3",
    partition: config.slurmPartition,
    account: config.slurmAccount,
    jobUser,
    ...options,
  });
  runtime.files.init();
  const wrapperTmp = `${runtime.files.wrapperPath}.${process.pid}.new`;
  writeFileSync(wrapperTmp, RANK_WRAPPER_PY, { mode: 0o755 });
  renameSync(wrapperTmp, runtime.files.wrapperPath); // ranks starting meanwhile read a whole file
  const sdkSource = findSdkPythonDir();
  if (sdkSource) installSdk(sdkSource, runtime.files.sdkDir);
  const readInventory = async (): Promise<WorkloadInventory> => {
    const nodes = parseNodeInventory(await cli.showNodes(), config.slurmPartition);
    return { source: nodes.some((node) => node.gpus.length > 0) ? "detected" : "none", nodes };
  };
  let inventory: WorkloadInventory;
  try {
    inventory = await readInventory();
  } catch (err) {
    throw new Error(
      `MLOPS_RUNTIME=slurm: cannot read the cluster's nodes (is slurmctld reachable?): ${(err as Error).message}`,
    );
  }
  const backend: WorkloadBackend = {
    runtime,
    inventory,
    refreshInventory: async () => {
      backend.inventory = await readInventory();
      return backend.inventory;
    },
    ...(sdkSource ? { sdkPythonDir: runtime.files.sdkDir } : {}),
    close: () => runtime.close(),
  };
  return backend;
}

/**
 * The nodes import the SDK from the shared dir: this installation's copy, replaced on every start by
 * renames, so a job importing it meanwhile sees the old or the new copy, never a half-copied one.
 */
function installSdk(source: string, target: string): void {
  const fresh = `${target}.${process.pid}.new`;
  const old = `${target}.${process.pid}.old`;
  rmSync(fresh, { recursive: true, force: true });
  cpSync(source, fresh, { recursive: true, filter: (file) => !file.includes("__pycache__") });
  if (existsSync(target)) renameSync(target, old);
  renameSync(fresh, target);
  rmSync(old, { recursive: true, force: true });
}

async function resolveUser(name: string): Promise<{ name: string; uid: number; gid: number }> {
  try {
    const uid = Number((await run("id", ["-u", name])).stdout.trim());
    const gid = Number((await run("id", ["-g", name])).stdout.trim());
    return { name, uid, gid };
  } catch {
    throw new Error(
      `MLOPS_SLURM_JOB_USER: no user '${name}' on this host (it must exist on the login and compute nodes)`,
    );
  }
}

/** `sdk/python` of this checkout or package (src/runtime/slurm -> repo root, same depth under dist/). */
function findSdkPythonDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = path.join(dir, "sdk", "python");
    if (existsSync(path.join(candidate, "mlops_sdk"))) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}
