import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createMigratedStore, describeEachDatabase } from "../../test/support/databases.js";
import type { Store } from "./open-store.js";
import { SqlAuditLog } from "./repositories/audit.js";
import { SqlIdentityStore } from "./repositories/identity.js";
import { SqlLeaseStore } from "./repositories/leases.js";

describeEachDatabase("metadata store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
  });
  afterEach(async () => cleanup());

  it("stores users, tokens by hash, and rejects duplicate names as unique violations", async () => {
    const identity = new SqlIdentityStore(store);
    const user = {
      id: randomUUID(),
      name: "ada",
      role: "engineer" as const,
      createdAt: 1_700_000_000_000,
      disabled: false,
    };
    await identity.insertUser(user);
    expect(await identity.findUser("ada")).toEqual(user);
    expect(await identity.findUser(user.id)).toEqual(user);
    expect(await identity.countUsers()).toBe(1);
    const err = await identity.insertUser({ ...user, id: randomUUID() }).catch((e: unknown) => e);
    expect(store.dialect.isUniqueViolation(err)).toBe(true);

    const token = {
      id: randomUUID(),
      userId: user.id,
      name: "cli",
      prefix: "mlops_abc",
      scope: { runId: "r1" },
      createdAt: 1,
      expiresAt: null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await identity.insertToken(token, "hash-1");
    expect(await identity.findTokenByHash("hash-1")).toEqual(token);
    expect(await identity.findTokenByHash("hash-2")).toBeUndefined();
    await identity.revokeToken(token.id, 99);
    expect((await identity.findToken(token.id))?.revokedAt).toBe(99);
  });

  it("keeps project members with roles and lists them with user names", async () => {
    const identity = new SqlIdentityStore(store);
    const u = { id: randomUUID(), name: "bob", role: "viewer" as const, createdAt: 1, disabled: false };
    await identity.insertUser(u);
    const p = {
      id: randomUUID(),
      name: "vision",
      description: "",
      createdAt: 2,
      createdBy: u.id,
      quotas: { gpus: 2 },
    };
    await identity.insertProject(p);
    await identity.upsertMember({ projectId: p.id, userId: u.id, role: "viewer", addedAt: 3 });
    await identity.upsertMember({ projectId: p.id, userId: u.id, role: "engineer", addedAt: 4 });
    expect(await identity.listMembers(p.id)).toEqual([
      { projectId: p.id, userId: u.id, userName: "bob", role: "engineer", addedAt: 3 },
    ]);
    expect(await identity.findMemberRole(p.id, u.id)).toBe("engineer");
    expect((await identity.findProject("vision"))?.quotas).toEqual({ gpus: 2 });
    expect(await identity.removeMember(p.id, u.id)).toBe(true);
    expect(await identity.removeMember(p.id, u.id)).toBe(false);
  });

  it("appends audit events and pages through them newest first", async () => {
    const audit = new SqlAuditLog(store);
    for (let i = 0; i < 7; i++) {
      await audit.record({
        actor: "ada",
        action: i % 2 ? "model.transition" : "run.create",
        subjectType: "model",
        subjectId: "m1",
        reason: `r${i}`,
        details: { i },
      });
    }
    const first = await audit.query({ limit: 3 });
    expect(first.events.map((e) => e.details.i)).toEqual([6, 5, 4]);
    expect(first.nextCursor).toBeDefined();
    const second = await audit.query({ limit: 3, before: first.nextCursor });
    expect(second.events.map((e) => e.details.i)).toEqual([3, 2, 1]);
    const last = await audit.query({ limit: 3, before: second.nextCursor });
    expect(last.events.map((e) => e.details.i)).toEqual([0]);
    expect(last.nextCursor).toBeUndefined();
    const filtered = await audit.query({ action: "model.transition" });
    expect(filtered.events).toHaveLength(3);
    expect(filtered.events[0]).toMatchObject({
      actor: "ada",
      subjectType: "model",
      subjectId: "m1",
      reason: "r5",
    });
  });

  it("grants a lease to one holder at a time and lets another take it after expiry", async () => {
    const leases = new SqlLeaseStore(store);
    expect(await leases.tryAcquire("leader", "a", 1000, 10_000)).toBe(true);
    expect(await leases.tryAcquire("leader", "b", 1000, 10_500)).toBe(false);
    expect(await leases.tryAcquire("leader", "a", 1000, 10_900)).toBe(true); // renewal
    expect(await leases.tryAcquire("leader", "b", 1000, 11_800)).toBe(false); // renewed until 11_900
    expect(await leases.tryAcquire("leader", "b", 1000, 12_000)).toBe(true); // expired: taken over
    const [lease] = await leases.list();
    expect(lease).toMatchObject({ name: "leader", holder: "b", acquiredAt: 12_000, expiresAt: 13_000 });
    await leases.release("leader", "a"); // not the holder: no effect
    expect((await leases.list())[0].holder).toBe("b");
    await leases.release("leader", "b");
    expect(await leases.list()).toEqual([]);
  });

  it("lets exactly one of many concurrent contenders win a free lease", async () => {
    const leases = new SqlLeaseStore(store);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => leases.tryAcquire("race", `h${i}`, 5000, 1000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
