/** Blob ownership (migration 0101_blob_owners). */
export interface BlobOwnersTable {
  /** A project id, or `*` for blobs the platform provides to every project. */
  project_id: string;
  sha256: string;
  created_at: number;
}

export interface ArtifactTables {
  blob_owners: BlobOwnersTable;
}
