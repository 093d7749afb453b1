import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { unpackArchive } from "../artifacts/code-archive.js";

/**
 * Each job's own directory, `<root>/<jobId>/`: its code archive unpacked (so the job runs exactly the code
 * it recorded) and `mlops-output/` (MLOPS_OUTPUT_DIR). The sandbox makes it the only writable place and
 * hides every other job's directory. A retry reuses the directory, so a job can resume from what an
 * earlier attempt wrote there (checkpoints).
 */
export interface JobWorkDirsOptions {
  root: string;
  artifacts: ArtifactStore;
  /** Limits for an unpacked code archive. */
  maxCodeBytes?: number;
  maxCodeFiles?: number;
}

export const OUTPUT_DIR_NAME = "mlops-output";

export class JobWorkDirs {
  constructor(private readonly options: JobWorkDirsOptions) {}

  dirOf(jobId: string): string {
    return path.join(this.options.root, jobId);
  }

  /** Creates the job's directory on first use; returns it and its output directory. */
  async prepare(job: { id: string; codeDigest?: string }): Promise<{ workDir: string; outputDir: string }> {
    const workDir = this.dirOf(job.id);
    const outputDir = path.join(workDir, OUTPUT_DIR_NAME);
    if (!(await exists(workDir))) {
      const partial = `${workDir}.unpacking`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true, mode: 0o700 });
      try {
        if (job.codeDigest) {
          await unpackArchive(await this.options.artifacts.get(job.codeDigest), partial, {
            maxBytes: this.options.maxCodeBytes ?? 2 * 1024 ** 3,
            maxFiles: this.options.maxCodeFiles ?? 100_000,
          });
        }
        await rename(partial, workDir);
      } catch (err) {
        await rm(partial, { recursive: true, force: true });
        throw err;
      }
    }
    await mkdir(outputDir, { recursive: true });
    return { workDir, outputDir };
  }

  async remove(jobId: string): Promise<void> {
    await rm(this.dirOf(jobId), { recursive: true, force: true });
  }
}

async function exists(target: string): Promise<boolean> {
  try {
    await stat(target);
    return true;
  } catch {
    return false;
  }
}
