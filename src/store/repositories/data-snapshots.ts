import type { Selectable } from "kysely";
import type { SnapshotEntry } from "../../data/data-store.js";
import type { Snapshot, Split, SplitCounts } from "../../data/model.js";
import { InputError } from "../../errors.js";
import type { Store } from "../open-store.js";
import type { DatasetSnapshotsTable } from "../tables/data.js";

const CHUNK = 300;

/** The snapshot half of SqlDataStore (kept apart to keep files small). */
export class SqlSnapshotQueries {
  constructor(protected readonly store: Store) {}

  protected get db() {
    return this.store.db;
  }

  async insertSnapshot(snapshot: Snapshot, entries: SnapshotEntry[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto("dataset_snapshots")
        .values({
          id: snapshot.id,
          dataset_id: snapshot.datasetId,
          item_count: snapshot.itemCount,
          split_counts: JSON.stringify(snapshot.splitCounts),
          manifest_size: snapshot.manifestSize,
          created_at: snapshot.createdAt,
          created_by: snapshot.createdBy,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      // Same content, same id: the first one stays, with its items, untouched.
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return;
      for (let i = 0; i < entries.length; i += CHUNK) {
        await trx
          .insertInto("snapshot_items")
          .values(
            entries.slice(i, i + CHUNK).map((e) => ({
              snapshot_id: snapshot.id,
              item_id: e.itemId,
              revision_id: e.revisionId,
              split: e.split,
            })),
          )
          .execute();
      }
    });
  }

  async findSnapshot(idOrPrefix: string): Promise<Snapshot | undefined> {
    const exact = await this.db
      .selectFrom("dataset_snapshots")
      .selectAll()
      .where("id", "=", idOrPrefix)
      .executeTakeFirst();
    if (exact) return toSnapshot(exact);
    if (!/^[0-9a-f]{8,63}$/.test(idOrPrefix)) return undefined;
    const rows = await this.db
      .selectFrom("dataset_snapshots")
      .selectAll()
      .where("id", ">=", idOrPrefix)
      .where("id", "<", `${idOrPrefix}g`)
      .limit(2)
      .execute();
    if (rows.length > 1)
      throw new InputError(`snapshot id prefix ${idOrPrefix} is ambiguous; give more characters`);
    return rows[0] ? toSnapshot(rows[0]) : undefined;
  }

  async listSnapshots(datasetId: string): Promise<Snapshot[]> {
    const rows = await this.db
      .selectFrom("dataset_snapshots")
      .selectAll()
      .where("dataset_id", "=", datasetId)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .execute();
    return rows.map(toSnapshot);
  }

  async snapshotEntries(snapshotId: string): Promise<SnapshotEntry[]> {
    const rows = await this.db
      .selectFrom("snapshot_items")
      .select(["item_id", "revision_id", "split"])
      .where("snapshot_id", "=", snapshotId)
      .orderBy("item_id")
      .execute();
    return rows.map((r) => ({
      itemId: r.item_id,
      revisionId: Number(r.revision_id),
      split: r.split as Split,
    }));
  }

  async snapshotHasBlob(snapshotId: string, sha256: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("snapshot_items as si")
      .innerJoin("dataset_items as i", "i.id", "si.item_id")
      .select("si.item_id")
      .where("si.snapshot_id", "=", snapshotId)
      .where("i.sha256", "=", sha256)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async countLabelChangesSince(datasetId: string, snapshotId: string | null): Promise<number> {
    const row = await this.db
      .selectFrom((eb) =>
        eb
          .selectFrom("label_revisions")
          .select(["item_id", (e) => e.fn.max("id").as("rev")])
          .where("dataset_id", "=", datasetId)
          .groupBy("item_id")
          .as("cur"),
      )
      .innerJoin("label_revisions as lr", "lr.id", "cur.rev")
      .leftJoin("snapshot_items as si", (join) =>
        join.onRef("si.item_id", "=", "cur.item_id").on("si.snapshot_id", "=", snapshotId ?? ""),
      )
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where((eb) =>
        eb.or([
          // A label on an item the snapshot did not have (a tombstone there is no change).
          eb.and([eb("si.item_id", "is", null), eb("lr.label", "is not", null)]),
          // An item the snapshot had, whose label was revised or deleted since.
          eb.and([eb("si.item_id", "is not", null), eb("si.revision_id", "!=", eb.ref("cur.rev"))]),
        ]),
      )
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

function toSnapshot(r: Selectable<DatasetSnapshotsTable>): Snapshot {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    itemCount: Number(r.item_count),
    splitCounts: JSON.parse(r.split_counts) as SplitCounts,
    manifestSize: Number(r.manifest_size),
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
  };
}
