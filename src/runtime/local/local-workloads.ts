import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SchedulerNode } from "../../jobs/capacity-pool.js";
import { parseGpuDeclaration } from "../../jobs/gpu-inventory.js";
import type { WorkloadInventory } from "../../jobs/inventory.js";
import { LocalRuntime } from "./local-runtime.js";
import { detectNvidiaGpus } from "./nvidia-smi.js";
import { defaultPythonCandidates, findPythonWithTorch } from "./python.js";
import { SYSTEM_PATHS } from "./sandbox.js";

export interface LocalWorkloadsOptions {
  dataDir: string;
  /** Declared GPUs ("h100:4") used when nvidia-smi finds none. */
  gpus?: string;
  /** Configured interpreter for `python` commands. */
  python?: string;
  nvidiaSmiPath?: string;
  /** "bubblewrap" (default: required, fail closed) or "none" (MLOPS_SANDBOX=none: no isolation). */
  sandbox?: "bubblewrap" | "none";
  /** PATH to find `bwrap` on (default: the system directories). */
  searchPath?: string;
}

export interface LocalWorkloads {
  runtime: LocalRuntime;
  inventory: WorkloadInventory;
  /** Root of the jobs' own directories (inside the data dir, hidden from every job). */
  jobsDir: string;
  /** The Python SDK's directory, when this installation ships it. */
  sdkPythonDir?: string;
  /** The interpreter `python` means: the configured one, else the first that imports torch (looked up once). */
  python: () => Promise<string | null>;
}

/**
 * The one-machine workload backend: the local node's inventory (GPUs detected with nvidia-smi, else
 * declared and simulated), and the local runtime with its state, logs and job directories under the
 * data dir. The whole data dir (database file, artifacts, other jobs) is hidden from every job's sandbox.
 */
export async function createLocalWorkloads(options: LocalWorkloadsOptions): Promise<LocalWorkloads> {
  const detected = await detectNvidiaGpus({ nvidiaSmiPath: options.nvidiaSmiPath });
  const declared = options.gpus ? parseGpuDeclaration(options.gpus) : [];
  const gpus = detected && detected.length > 0 ? detected : declared;
  const source = detected && detected.length > 0 ? "detected" : declared.length > 0 ? "declared" : "none";
  const node: SchedulerNode = {
    id: "local",
    cpu: os.availableParallelism(),
    memoryMiB: Math.floor(os.totalmem() / (1024 * 1024)),
    gpus,
  };
  const sdkPythonDir = findSdkPythonDir();
  // The platform's own installation, read-only: platform-provided workloads (the batch prediction worker,
  // `node bin/mlops.js batch worker`) run its code. The data dir stays hidden even if it lies inside.
  const readOnlyPaths = [sdkPythonDir, installationRoot(), interpreterPrefix(options.python)].filter(
    (p): p is string => !!p,
  );
  const runtime = await LocalRuntime.create({
    stateDir: path.join(options.dataDir, "runtime"),
    logDir: path.join(options.dataDir, "job-logs"),
    hiddenPaths: [options.dataDir],
    readOnlyPaths,
    sandbox: options.sandbox ?? "bubblewrap",
    searchPath: options.searchPath,
  });
  let python: Promise<string | null> | undefined;
  return {
    runtime,
    inventory: { source, nodes: [node] },
    jobsDir: path.join(options.dataDir, "jobs"),
    sdkPythonDir,
    python: () => {
      python ??= options.python
        ? Promise.resolve(options.python)
        : findPythonWithTorch(defaultPythonCandidates()).then((found) => found?.path ?? null);
      return python;
    },
  };
}

/** `sdk/python` of this checkout or package (src/runtime/local -> repo root, same depth under dist/). */
function findSdkPythonDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = path.join(dir, "sdk", "python");
    if (existsSync(path.join(candidate, "mlops_sdk"))) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

/** The directory holding `bin/mlops.js` (src/runtime/local -> repo root, same depth under dist/). */
function installationRoot(): string | undefined {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  return existsSync(path.join(root, "bin", "mlops.js")) ? root : undefined;
}

/** A virtualenv's root for an interpreter outside the system paths (bound read-only into sandboxes). */
function interpreterPrefix(python: string | undefined): string | undefined {
  if (!python || !path.isAbsolute(python)) return undefined;
  if (SYSTEM_PATHS.some((root) => python.startsWith(`${root}/`))) return undefined;
  return path.dirname(path.dirname(python));
}
