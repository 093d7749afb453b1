import type { Readable } from "node:stream";
import { type ArtifactStore, parseSha256, putBytes } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { NotFoundError } from "../errors.js";
import type { DataStore, DatasetRecord } from "./data-store.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";
import {
  buildManifest,
  diffManifests,
  parseManifest,
  type SnapshotDiff,
  type SnapshotManifest,
} from "./manifest.js";
import type { Snapshot } from "./model.js";

export interface SnapshotResult extends Snapshot {
  /** false when an identical snapshot already existed (same content, same id). */
  created: boolean;
}

/**
 * Immutable, content-addressed snapshots: the manifest (see manifest.ts) is stored as an artifact blob
 * whose sha256 is the snapshot id, and its (item, revision, split) rows are kept for change counting.
 */
export class SnapshotService {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
    private readonly artifacts: ArtifactStore,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  async create(principal: Principal, ref: DatasetRef): Promise<SnapshotResult> {
    const dataset = await this.access.resolve(principal, ref, "write");
    return this.createFor(dataset.id, actorOf(principal));
  }

  /** For automation (the retrain pipeline): no caller check; `actor` goes to the audit log. */
  async createFor(datasetId: string, actor: string): Promise<SnapshotResult> {
    const dataset = await this.datasetById(datasetId);
    const built = buildManifest(dataset, await this.store.currentLabels(dataset.id));
    const existing = await this.store.findSnapshot(built.sha256);
    if (existing) return { ...existing, created: false };
    await putBytes(this.artifacts, built.bytes, { expectedSha256: built.sha256 });
    const snapshot: Snapshot = {
      id: built.sha256,
      datasetId: dataset.id,
      itemCount: built.manifest.items.length,
      splitCounts: built.manifest.splitCounts,
      manifestSize: built.bytes.length,
      createdAt: this.now(),
      createdBy: actor,
    };
    await this.store.insertSnapshot(snapshot, built.entries);
    const stored = (await this.store.findSnapshot(snapshot.id)) ?? snapshot;
    const created = stored.createdAt === snapshot.createdAt && stored.createdBy === actor;
    if (created) {
      await this.audit.record({
        actor,
        action: "dataset.snapshot",
        subjectType: "snapshot",
        subjectId: snapshot.id,
        projectId: dataset.projectId,
        details: { dataset: dataset.name, items: snapshot.itemCount, splitCounts: snapshot.splitCounts },
      });
    }
    return { ...stored, created };
  }

  async get(
    principal: Principal,
    idOrPrefix: string,
  ): Promise<Snapshot & { dataset: string; projectId: string }> {
    const { snapshot, dataset } = await this.load(principal, idOrPrefix);
    return { ...snapshot, dataset: dataset.name, projectId: dataset.projectId };
  }

  async list(principal: Principal, ref: DatasetRef): Promise<Snapshot[]> {
    const dataset = await this.access.resolve(principal, ref, "read");
    return this.store.listSnapshots(dataset.id);
  }

  async openManifest(
    principal: Principal,
    idOrPrefix: string,
  ): Promise<{ snapshot: Snapshot; stream: Readable }> {
    const { snapshot } = await this.load(principal, idOrPrefix);
    return { snapshot, stream: await this.artifacts.get(snapshot.id) };
  }

  /** An image of the snapshot (only images the snapshot holds are served through it). */
  async openBlob(
    principal: Principal,
    idOrPrefix: string,
    sha256: string,
  ): Promise<{ size: number; stream: Readable }> {
    const { snapshot } = await this.load(principal, idOrPrefix);
    const sha = parseSha256(sha256);
    if (!(await this.store.snapshotHasBlob(snapshot.id, sha))) {
      throw new NotFoundError(`snapshot ${snapshot.id.slice(0, 12)} has no image ${sha}`);
    }
    const info = await this.artifacts.stat(sha);
    return { size: info.size, stream: await this.artifacts.get(sha) };
  }

  async diff(principal: Principal, fromId: string, toId: string): Promise<SnapshotDiff> {
    const from = await this.load(principal, fromId);
    const to = await this.load(principal, toId);
    return diffManifests(
      from.snapshot.id,
      await this.manifestOf(from.snapshot.id),
      to.snapshot.id,
      await this.manifestOf(to.snapshot.id),
    );
  }

  /** The parsed manifest (for automation and the training job environment). */
  async manifestOf(snapshotId: string): Promise<SnapshotManifest> {
    const stream = await this.artifacts.get(parseSha256(snapshotId));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
    return parseManifest(Buffer.concat(chunks).toString("utf8"));
  }

  /**
   * New, changed or deleted labels in the dataset since `snapshotId` (null: since the beginning, i.e. every
   * current label). The retrain trigger compares this with its threshold.
   */
  async countLabelChangesSince(datasetId: string, snapshotId: string | null): Promise<number> {
    if (snapshotId) {
      const snapshot = await this.store.findSnapshot(snapshotId);
      if (!snapshot) throw new NotFoundError(`snapshot ${snapshotId} not found`);
      return this.store.countLabelChangesSince(datasetId, snapshot.id);
    }
    return this.store.countLabelChangesSince(datasetId, null);
  }

  async findSnapshot(idOrPrefix: string): Promise<Snapshot | undefined> {
    return this.store.findSnapshot(idOrPrefix);
  }

  private async load(
    principal: Principal,
    idOrPrefix: string,
  ): Promise<{ snapshot: Snapshot; dataset: DatasetRecord }> {
    const snapshot = await this.store.findSnapshot(idOrPrefix);
    if (!snapshot) throw new NotFoundError(`snapshot ${idOrPrefix} not found`);
    const dataset = await this.datasetById(snapshot.datasetId);
    await this.access.authorize(principal, dataset, "read");
    return { snapshot, dataset };
  }

  private async datasetById(id: string): Promise<DatasetRecord> {
    const dataset = await this.store.findDatasetById(id);
    if (!dataset) throw new NotFoundError(`dataset ${id} not found`);
    return dataset;
  }
}
