import type { Kysely } from "kysely";
import { PLATFORM_OWNER, type BlobOwnerStore } from "../../artifacts/blob-ownership.js";
import type { Store } from "../open-store.js";
import type { Database } from "../schema.js";

const CHUNK = 500;

/**
 * Blob ownership on SQL. Claimed rows live in `blob_owners`; run artifacts and dataset images are owned
 * through their own tables (both indexed by sha256 / dataset), so they are never copied here.
 */
export class SqlBlobOwnerStore implements BlobOwnerStore {
  constructor(private readonly store: Store) {}

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  async claim(ownerId: string, sha256s: readonly string[], at: number): Promise<void> {
    for (let i = 0; i < sha256s.length; i += CHUNK) {
      const rows = sha256s
        .slice(i, i + CHUNK)
        .map((sha256) => ({ project_id: ownerId, sha256, created_at: at }));
      await this.db
        .insertInto("blob_owners")
        .values(rows)
        .onConflict((oc) => oc.columns(["project_id", "sha256"]).doNothing())
        .execute();
    }
  }

  async owns(projectId: string, sha256: string): Promise<boolean> {
    const claimed = await this.db
      .selectFrom("blob_owners")
      .select("sha256")
      .where("sha256", "=", sha256)
      .where("project_id", "in", [projectId, PLATFORM_OWNER])
      .limit(1)
      .executeTakeFirst();
    if (claimed) return true;
    const runArtifact = await this.db
      .selectFrom("run_artifacts as a")
      .innerJoin("runs as r", "r.id", "a.run_id")
      .select("a.sha256")
      .where("a.sha256", "=", sha256)
      .where("r.project_id", "=", projectId)
      .limit(1)
      .executeTakeFirst();
    if (runArtifact) return true;
    const datasetImage = await this.db
      .selectFrom("dataset_blobs as b")
      .innerJoin("datasets as d", "d.id", "b.dataset_id")
      .select("b.sha256")
      .where("b.sha256", "=", sha256)
      .where("d.project_id", "=", projectId)
      .limit(1)
      .executeTakeFirst();
    return datasetImage !== undefined;
  }
}
