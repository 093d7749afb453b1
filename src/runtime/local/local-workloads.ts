import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SchedulerNode } from "../../jobs/capacity-pool.js";
import { parseGpuDeclaration } from "../../jobs/gpu-inventory.js";
import type { WorkloadBackend } from "../backend.js";
import type { BackendDeps } from "../backends.js";
import { LocalRuntime } from "./local-runtime.js";
import { detectNvidiaGpus } from "./nvidia-smi.js";
import { defaultPythonCandidates, findPythonWithTorch } from "./python.js";
import { SYSTEM_PATHS } from "./sandbox.js";

/**
 * The one-machine workload backend: the local node's inventory (GPUs detected with nvidia-smi, else
 * declared and simulated), and the local runtime with its state, logs, job directories and volumes under
 * the data dir. The whole data dir (database file, artifacts, other jobs) is hidden from every job's
 * sandbox; the SDK, this installation and a configured interpreter's virtualenv are bound read-only.
 */
export async function createLocalBackend(deps: BackendDeps): Promise<WorkloadBackend> {
  const { config } = deps;
  const detected = await detectNvidiaGpus();
  const declared = config.gpus ? parseGpuDeclaration(config.gpus) : [];
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
  const readOnlyPaths = [sdkPythonDir, installationRoot(), interpreterPrefix(config.python)].filter(
    (p): p is string => !!p,
  );
  let python: Promise<string | null> | undefined;
  const runtime = await LocalRuntime.create({
    stateDir: path.join(config.dataDir, "runtime"),
    logDir: path.join(config.dataDir, "job-logs"),
    jobsDir: path.join(config.dataDir, "jobs"),
    volumesDir: path.join(config.dataDir, "volumes"),
    artifacts: deps.artifacts,
    sdkPythonDir,
    // The interpreter `python` means: the configured one, else the first that imports torch (looked up once).
    python: () => {
      python ??= config.python
        ? Promise.resolve(config.python)
        : findPythonWithTorch(defaultPythonCandidates()).then((found) => found?.path ?? null);
      return python;
    },
    endpointHost: config.workspaceSshHost ?? "127.0.0.1",
    hiddenPaths: [config.dataDir],
    readOnlyPaths,
    sandbox: config.sandbox === "none" ? "none" : "bubblewrap",
    searchPath: deps.searchPath,
  });
  return {
    runtime,
    inventory: { source, nodes: [node] },
    sdkPythonDir,
    close: () => runtime.close(),
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
