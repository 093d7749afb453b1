import type { Lease, LeaseStore } from "../../leases/lease-store.js";
import type { Store } from "../open-store.js";

export class SqlLeaseStore implements LeaseStore {
  constructor(private readonly store: Store) {}

  async tryAcquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const expiresAt = now + ttlMs;
    // One statement: insert, or take over when expired, or renew when ours. Atomic on both databases.
    await this.store.db
      .insertInto("leases")
      .values({ name, holder, acquired_at: now, renewed_at: now, expires_at: expiresAt })
      .onConflict((oc) =>
        oc
          .column("name")
          .doUpdateSet((eb) => ({
            holder: eb.ref("excluded.holder"),
            acquired_at: eb
              .case()
              .when("leases.holder", "=", eb.ref("excluded.holder"))
              .then(eb.ref("leases.acquired_at"))
              .else(eb.ref("excluded.acquired_at"))
              .end(),
            renewed_at: eb.ref("excluded.renewed_at"),
            expires_at: eb.ref("excluded.expires_at"),
          }))
          .where((eb) => eb.or([eb("leases.expires_at", "<", now), eb("leases.holder", "=", holder)])),
      )
      .execute();
    const row = await this.store.db
      .selectFrom("leases")
      .select("holder")
      .where("name", "=", name)
      .executeTakeFirst();
    return row?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.store.db.deleteFrom("leases").where("name", "=", name).where("holder", "=", holder).execute();
  }

  async list(): Promise<Lease[]> {
    const rows = await this.store.db.selectFrom("leases").selectAll().orderBy("name").execute();
    return rows.map((r) => ({
      name: r.name,
      holder: r.holder,
      acquiredAt: r.acquired_at,
      renewedAt: r.renewed_at,
      expiresAt: r.expires_at,
    }));
  }
}
