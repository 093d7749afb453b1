import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The platform's own installation root (the directory holding `bin/mlops.js`): this file sits at
 * `src/serving/batch/` in a checkout and at `dist/serving/batch/` when built, three levels down.
 */
export function installRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/**
 * The command the scheduler runs for a batch: this Node binary running this installation's CLI, so the
 * worker uses exactly the platform code (preprocessing, runner) that online serving uses. The local
 * runtime binds the installation read-only into the job's sandbox.
 */
export function batchWorkerCommand(batchId: string, root = installRoot(), node = process.execPath): string[] {
  return [node, path.join(root, "bin", "mlops.js"), "batch", "worker", batchId];
}
