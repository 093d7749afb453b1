import { execFile } from "node:child_process";
import { type GpuDevice, parseNvidiaSmiCsv } from "../../jobs/gpu-inventory.js";

export const NVIDIA_SMI_QUERY = ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"];

/**
 * The GPUs the driver reports, or null where there is no usable driver: nvidia-smi missing, failing
 * (driver not loaded), or timing out. The caller then falls back to the declared inventory.
 */
export function detectNvidiaGpus(
  options: { nvidiaSmiPath?: string; timeoutMs?: number } = {},
): Promise<GpuDevice[] | null> {
  const file = options.nvidiaSmiPath ?? "nvidia-smi";
  return new Promise((resolve) => {
    execFile(file, NVIDIA_SMI_QUERY, { timeout: options.timeoutMs ?? 10_000 }, (error, stdout) => {
      if (error) {
        resolve(null);
        return;
      }
      try {
        resolve(parseNvidiaSmiCsv(stdout));
      } catch {
        resolve(null);
      }
    });
  });
}
