import type { Readable } from "node:stream";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import {
  isUnderArtifactDir,
  normalizeArtifactDir,
  normalizeArtifactPath,
} from "../artifacts/artifact-path.js";
import type { Principal } from "../auth/principal.js";
import { NotFoundError } from "../errors.js";
import type { TrackingAccess } from "./access.js";
import type { ArtifactEntry, RunArtifact } from "./model.js";

/** A run's files: blobs in the content-addressed ArtifactStore, named per run in the tracking store. */
export class RunArtifacts {
  constructor(
    private readonly access: TrackingAccess,
    private readonly blobs: ArtifactStore,
    private readonly now: () => number = Date.now,
    /** Largest accepted artifact; unlimited by default (the store streams). */
    private readonly maxBytes?: number,
  ) {}

  /**
   * Streams `body` into the store and records it as `path` of the run (replacing an earlier file there).
   * The path and the caller's rights are checked before a byte is read, so a refused upload stores nothing.
   */
  async upload(
    principal: Principal,
    runId: string,
    rawPath: string,
    body: Readable | AsyncIterable<Uint8Array>,
    expectedSha256?: string,
  ): Promise<RunArtifact> {
    const path = normalizeArtifactPath(rawPath);
    await this.access.writeActiveRun(principal, runId);
    const put = await this.blobs.put(body, { expectedSha256, maxBytes: this.maxBytes });
    const artifact: RunArtifact = { path, sha256: put.sha256, size: put.size, createdAt: this.now() };
    await this.access.store.putRunArtifact(runId, artifact);
    return artifact;
  }

  /** A file of the run, opened for streaming. */
  async open(
    principal: Principal,
    runId: string,
    rawPath: string,
  ): Promise<{ artifact: RunArtifact; stream: Readable }> {
    const path = normalizeArtifactPath(rawPath);
    await this.access.readRun(principal, runId);
    const artifact = await this.find(runId, path);
    return { artifact, stream: await this.blobs.get(artifact.sha256) };
  }

  /** The run's file at `path` without an access check, for other domains (registry) that checked already. */
  async find(runId: string, path: string): Promise<RunArtifact> {
    const artifact = await this.access.store.findRunArtifact(runId, normalizeArtifactPath(path));
    if (!artifact) {
      throw new NotFoundError(`Artifact '${path}' of run ${runId} not found`, {
        mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST",
      });
    }
    return artifact;
  }

  /** Every file of the run at or below `dir` (full paths), for other domains; no access check. */
  async allFiles(runId: string, dir = ""): Promise<RunArtifact[]> {
    return this.access.store.listRunArtifacts(runId, normalizeArtifactDir(dir));
  }

  /**
   * The entries directly inside `dir` (`""` = the root): files with size and hash, directories once.
   * Paths are full (relative to the run root), sorted. A path that names a file lists nothing, as in MLflow.
   */
  async list(principal: Principal, runId: string, rawDir: string | undefined): Promise<ArtifactEntry[]> {
    const dir = normalizeArtifactDir(rawDir);
    await this.access.readRun(principal, runId);
    return directoryEntries(await this.access.store.listRunArtifacts(runId, dir), dir);
  }
}

export function directoryEntries(files: RunArtifact[], dir: string): ArtifactEntry[] {
  const entries = new Map<string, ArtifactEntry>();
  for (const file of files) {
    if (file.path === dir || !isUnderArtifactDir(file.path, dir)) continue;
    const rest = dir === "" ? file.path : file.path.slice(dir.length + 1);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      entries.set(file.path, { path: file.path, isDir: false, size: file.size, sha256: file.sha256 });
    } else {
      const sub = dir === "" ? rest.slice(0, slash) : `${dir}/${rest.slice(0, slash)}`;
      if (!entries.has(sub)) entries.set(sub, { path: sub, isDir: true });
    }
  }
  return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
