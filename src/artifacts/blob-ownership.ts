import { type ArtifactStore, type BlobInfo, isSha256Hex } from "./artifact-store.js";

/** Owner of the blobs the platform itself provides to every project (the bundled example code). */
export const PLATFORM_OWNER = "*";

/**
 * Who owns which blob (docs/security.md, tenancy). The store is content-addressed and shared, so knowing
 * a sha256 must not be enough to read a blob: a reference resolves only for a project that owns it.
 * SQL implementation: store/repositories/blob-owners.ts.
 */
export interface BlobOwnerStore {
  /** Records that the owner holds these blobs; idempotent. */
  claim(ownerId: string, sha256s: readonly string[], at: number): Promise<void>;
  /**
   * Whether the project owns the blob: claimed by it (or by PLATFORM_OWNER), an artifact of one of its
   * runs, or an image uploaded to one of its datasets.
   */
  owns(projectId: string, sha256: string): Promise<boolean>;
}

/** Blob references checked against ownership; the one way other domains resolve a sha256 they were given. */
export class BlobOwnership {
  constructor(
    private readonly owners: BlobOwnerStore,
    private readonly artifacts: ArtifactStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records that `projectId` uploaded or produced these blobs. */
  async claim(projectId: string, sha256s: readonly string[]): Promise<void> {
    const canonical = [...new Set(sha256s.map((s) => s.toLowerCase()))];
    if (canonical.length > 0) await this.owners.claim(projectId, canonical, this.now());
  }

  /** Makes a blob the platform wrote itself (shipped with the platform, public) usable by every project. */
  async claimForAll(sha256: string): Promise<void> {
    await this.claim(PLATFORM_OWNER, [sha256]);
  }

  /**
   * The blob's info when the project owns it and it exists; undefined otherwise. A blob that exists but
   * belongs only to another project takes exactly the same path as one that was never uploaded (the
   * ownership check comes first and the store is not consulted), so callers that turn `undefined` into
   * one error message reveal nothing about other projects' blobs.
   */
  async resolve(projectId: string, sha256: string): Promise<BlobInfo | undefined> {
    const canonical = typeof sha256 === "string" ? sha256.toLowerCase() : "";
    if (!isSha256Hex(canonical)) return undefined;
    if (!(await this.owners.owns(projectId, canonical))) return undefined;
    return (await this.artifacts.has(canonical)) ? this.artifacts.stat(canonical) : undefined;
  }
}
