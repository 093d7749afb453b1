import { lchown, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { unpackArchive } from "../../artifacts/code-archive.js";

/**
 * Code reaches the nodes through the shared work dir: before sbatch, the control plane unpacks the job's
 * code archive (by digest, from the artifact store) into `<workDir>/jobs/<jobId>/`, once per job (all
 * ranks and later attempts share it, so checkpoints in it survive a retry). Jobs need no route to the API
 * to get their code. With a job user, the directory is handed to that user.
 */
export const OUTPUT_DIR_NAME = "mlops-output";

export async function prepareJobDir(options: {
  dir: string;
  codeDigest?: string;
  artifacts: ArtifactStore;
  owner?: { uid: number; gid: number };
  maxCodeBytes?: number;
  maxCodeFiles?: number;
}): Promise<{ workDir: string; outputDir: string }> {
  const workDir = options.dir;
  const outputDir = path.join(workDir, OUTPUT_DIR_NAME);
  if (!(await exists(workDir))) {
    const partial = `${workDir}.unpacking`;
    await rm(partial, { recursive: true, force: true });
    await mkdir(partial, { recursive: true, mode: 0o700 });
    try {
      if (options.codeDigest) {
        await unpackArchive(await options.artifacts.get(options.codeDigest), partial, {
          maxBytes: options.maxCodeBytes ?? 2 * 1024 ** 3,
          maxFiles: options.maxCodeFiles ?? 100_000,
        });
      }
      await mkdir(path.join(partial, OUTPUT_DIR_NAME), { recursive: true });
      if (options.owner) await chownTree(partial, options.owner);
      await rename(partial, workDir);
    } catch (err) {
      await rm(partial, { recursive: true, force: true });
      throw err;
    }
  }
  await mkdir(outputDir, { recursive: true });
  return { workDir, outputDir };
}

async function chownTree(dir: string, owner: { uid: number; gid: number }): Promise<void> {
  await lchown(dir, owner.uid, owner.gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const target = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(target, owner);
    else await lchown(target, owner.uid, owner.gid);
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
