import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { unpackArchive } from "../../artifacts/code-archive.js";
import { InputError } from "../../errors.js";

/**
 * Each job's own directory, `<root>/<jobId>/` (docs/architecture/runtime-contract.md): its code archive
 * unpacked (so the job runs exactly the code it recorded) and `mlops-output/` (MLOPS_OUTPUT_DIR). The
 * sandbox makes it the only writable place and hides every other job's directory. All ranks of a job
 * share it, and a retry reuses it, so a job can resume from what an earlier attempt wrote (checkpoints).
 * Unpacking goes to `<jobId>.unpacking` and is renamed into place: a crash never leaves a half-filled dir.
 */
export interface WorkDirsOptions {
  root: string;
  /** Where code archives come from; a spec with a codeDigest fails to start without one. */
  artifacts?: ArtifactStore;
  /** Limits for an unpacked code archive. */
  maxCodeBytes?: number;
  maxCodeFiles?: number;
}

export const OUTPUT_DIR_NAME = "mlops-output";
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export class WorkDirs {
  /** One preparation per job at a time: the ranks of a gang unpack once. */
  private readonly preparing = new Map<string, Promise<{ workDir: string; outputDir: string }>>();

  constructor(private readonly options: WorkDirsOptions) {}

  dirOf(jobId: string): string {
    if (!JOB_ID.test(jobId) || jobId.endsWith(".unpacking")) {
      throw new InputError(`job id '${jobId}' is not usable as a directory name`);
    }
    return path.join(this.options.root, jobId);
  }

  /** Creates the job's directory on first use; returns it and its output directory. */
  prepare(jobId: string, codeDigest?: string): Promise<{ workDir: string; outputDir: string }> {
    const running = this.preparing.get(jobId);
    if (running) return running;
    const prepared = this.prepareOnce(jobId, codeDigest).finally(() => this.preparing.delete(jobId));
    this.preparing.set(jobId, prepared);
    return prepared;
  }

  private async prepareOnce(jobId: string, codeDigest?: string) {
    const workDir = this.dirOf(jobId);
    const outputDir = path.join(workDir, OUTPUT_DIR_NAME);
    if (!(await exists(workDir))) {
      const partial = `${workDir}.unpacking`;
      await rm(partial, { recursive: true, force: true });
      await mkdir(partial, { recursive: true, mode: 0o700 });
      try {
        if (codeDigest) {
          if (!this.options.artifacts)
            throw new Error("this runtime has no artifact store to fetch code from");
          await unpackArchive(await this.options.artifacts.get(codeDigest), partial, {
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
    const dir = this.dirOf(jobId);
    await rm(`${dir}.unpacking`, { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
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
