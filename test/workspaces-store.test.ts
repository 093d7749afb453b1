import { afterEach, beforeEach, expect, it } from "vitest";
import { migrateDown } from "../src/store/migrate.js";
import { migrations } from "../src/store/migrations/index.js";
import type { Store } from "../src/store/open-store.js";
import { SqlIdentityStore } from "../src/store/repositories/identity.js";
import { SqlWorkspaceStore } from "../src/store/repositories/workspaces.js";
import type { Workspace } from "../src/workspaces/workspace.js";
import { transitionWorkspace } from "../src/workspaces/workspace-states.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

function workspace(id: string, name: string, gpus: number, ownerId = "u1"): Workspace {
  return {
    id,
    projectId: "p1",
    name,
    ownerId,
    ownerName: ownerId,
    loginUser: ownerId,
    resources: { cpu: 1, memoryMiB: 1024, gpus, ...(gpus ? { gpuType: "h100" } : {}) },
    idleTimeoutSeconds: 60,
    state: "stopped",
    stateReason: "created",
    jobId: null,
    endpoint: null,
    hostPublicKey: "ssh-ed25519 AAAA host",
    hostKeyFingerprint: "SHA256:x",
    keepHome: false,
    createdAt: 1,
    updatedAt: 1,
    startedAt: null,
    lastActivityAt: null,
    sessions: 0,
    lastReportAt: null,
    idleWarnedAt: null,
    notice: null,
  };
}

/** The workspaces repository on both databases: conditional moves, unique names, keys, limits, migration. */
describeEachDatabase("workspace store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let workspaces: SqlWorkspaceStore;

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    workspaces = new SqlWorkspaceStore(store);
    const identity = new SqlIdentityStore(store);
    await identity.insertProject({
      id: "p1",
      name: "p1",
      description: "",
      createdAt: 0,
      createdBy: "u",
      quotas: {},
    });
    await identity.insertUser({ id: "u1", name: "u1", role: "engineer", createdAt: 0, disabled: false });
  });
  afterEach(async () => {
    await cleanup();
  });

  it("round-trips a workspace, keeps the host key apart, and moves it only from the expected state", async () => {
    const created = workspace("w1", "dev1", 2);
    await workspaces.insert(created, "PRIVATE");
    expect(await workspaces.get("w1")).toEqual(created);
    expect(await workspaces.hostPrivateKey("w1")).toBe("PRIVATE");
    const queued = transitionWorkspace(created, "queued", "submitted", 2, { jobId: "j1" });
    expect(await workspaces.update(queued, "stopped")).toBe(true);
    const running = transitionWorkspace(queued, "running", "sshd", 3, {
      endpoint: { host: "h", port: 22 },
      startedAt: 3,
    });
    expect(await workspaces.update(running, "stopped")).toBe(false);
    expect(await workspaces.update(running, "queued")).toBe(true);
    expect(await workspaces.findByJob("j1")).toMatchObject({
      state: "running",
      endpoint: { host: "h", port: 22 },
    });
    expect(await workspaces.activeGpus("p1")).toBe(2);
    expect(await workspaces.activeGpus("p1", "w1")).toBe(0);
    expect(await workspaces.countByState()).toEqual({ running: 1 });
    await workspaces.recordActivity("w1", {
      sessions: 2,
      lastReportAt: 9,
      lastActivityAt: 9,
      idleWarnedAt: null,
      notice: "n",
    });
    expect(await workspaces.get("w1")).toMatchObject({ sessions: 2, lastActivityAt: 9, notice: "n" });
    expect((await workspaces.inStates(["running"])).map((w) => w.id)).toEqual(["w1"]);
    await workspaces.remove("w1");
    expect(await workspaces.get("w1")).toBeUndefined();
  });

  it("names are unique per owner and project", async () => {
    await workspaces.insert(workspace("w1", "dev1", 0), "k");
    await expect(workspaces.insert(workspace("w2", "dev1", 0), "k")).rejects.toThrow();
    await workspaces.insert(workspace("w3", "dev1", 0, "u2"), "k");
    expect((await workspaces.list({ projectIds: ["p1"] })).length).toBe(2);
    expect((await workspaces.list({ projectIds: ["p1"], ownerId: "u2" })).map((w) => w.id)).toEqual(["w3"]);
    expect(await workspaces.list({ projectIds: [] })).toEqual([]);
  });

  it("stores SSH keys once per fingerprint and project limits as an upsert", async () => {
    const key = {
      id: "k1",
      userId: "u1",
      name: "laptop",
      type: "ssh-ed25519",
      publicKey: "ssh-ed25519 AAAA",
      fingerprint: "SHA256:f",
      comment: "",
      createdAt: 1,
    };
    await workspaces.insertKey(key);
    await expect(workspaces.insertKey({ ...key, id: "k2" })).rejects.toThrow();
    expect(await workspaces.keysOf("u1")).toEqual([key]);
    expect(await workspaces.removeKey("u2", "k1")).toBe(false);
    expect(await workspaces.removeKey("u1", "k1")).toBe(true);
    expect(await workspaces.limits("p1")).toBeUndefined();
    await workspaces.setLimits({ projectId: "p1", maxGpus: 4, maxLifetimeSeconds: null });
    await workspaces.setLimits({ projectId: "p1", maxGpus: 2, maxLifetimeSeconds: 3600 });
    expect(await workspaces.limits("p1")).toEqual({ projectId: "p1", maxGpus: 2, maxLifetimeSeconds: 3600 });
  });

  it("migrates down with data in it", async () => {
    await workspaces.insert(workspace("w1", "dev1", 1), "k");
    const through = migrations.slice(0, migrations.findIndex((m) => m.name === "0500_workspaces") + 1);
    expect(await migrateDown(store, through)).toEqual(["0500_workspaces"]);
    await expect(workspaces.get("w1")).rejects.toThrow();
  });
});
