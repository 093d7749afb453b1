import { afterEach, beforeEach, expect, it } from "vitest";
import type { Store } from "../src/store/open-store.js";
import { SqlAuditLog } from "../src/store/repositories/audit.js";
import { SqlIdentityStore } from "../src/store/repositories/identity.js";
import { SqlWorkspaceStore } from "../src/store/repositories/workspaces.js";
import { DEFAULT_IDLE_POLICY } from "../src/workspaces/idle-policy.js";
import type { Workspace, WorkspaceState } from "../src/workspaces/workspace.js";
import type { WorkspaceJobs, WorkspaceJobView } from "../src/workspaces/workspace-ports.js";
import { WorkspaceSync } from "../src/workspaces/workspace-sync.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

/**
 * The leader's sync pass over the real store, with the job system and runtime replaced by a table of job
 * views (the scenario tests run them for real: test/workspaces-ssh.test.ts, test/workspaces-idle.test.ts).
 */
describeEachDatabase("workspace sync", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let workspaces: SqlWorkspaceStore;
  let audit: SqlAuditLog;
  const jobs = new Map<string, WorkspaceJobView>();
  const cancelled: string[] = [];
  const deletedVolumes: string[] = [];
  let sync: WorkspaceSync;
  const now = 1_800_000_000_000;

  const fakeJobs: WorkspaceJobs = {
    submit: async () => ({ id: "unused" }),
    get: async (id) => jobs.get(id),
    cancel: async (id) => {
      cancelled.push(id);
    },
  };

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    workspaces = new SqlWorkspaceStore(store);
    audit = new SqlAuditLog(store);
    await new SqlIdentityStore(store).insertProject({
      id: "p1",
      name: "p1",
      description: "",
      createdAt: 0,
      createdBy: "u",
      quotas: {},
    });
    jobs.clear();
    cancelled.length = 0;
    deletedVolumes.length = 0;
    sync = new WorkspaceSync(
      {
        store: workspaces,
        jobs: fakeJobs,
        runtime: {
          usage: async () => ({ cpuCores: 0 }),
          deleteVolume: async (name) => void deletedVolumes.push(name),
        },
        audit,
        maxLifetimeSeconds: null,
        now: () => now,
      },
      DEFAULT_IDLE_POLICY,
    );
  });
  afterEach(async () => {
    await cleanup();
  });

  async function insert(
    id: string,
    state: WorkspaceState,
    job: WorkspaceJobView,
    changes: Partial<Workspace> = {},
  ) {
    jobs.set(job.id, job);
    await workspaces.insert(
      {
        id,
        projectId: "p1",
        name: id,
        ownerId: "u1",
        ownerName: "u1",
        loginUser: "u1",
        resources: { cpu: 1, memoryMiB: 512, gpus: 1 },
        idleTimeoutSeconds: 3600,
        state,
        stateReason: "x",
        jobId: job.id,
        endpoint: null,
        hostPublicKey: "k",
        hostKeyFingerprint: "f",
        keepHome: false,
        createdAt: now - 1000,
        updatedAt: now - 1000,
        startedAt: state === "running" ? now - 1000 : null,
        lastActivityAt: state === "running" ? now - 1000 : null,
        sessions: 0,
        lastReportAt: null,
        idleWarnedAt: null,
        notice: null,
        ...changes,
      },
      "PRIVATE",
    );
  }
  const actions = async (id: string) =>
    (await audit.query({ subjectType: "workspace", subjectId: id })).events.map((e) => e.action);

  it("follows its job: running with the endpoint, the queue's reason, a crash, an outside cancel", async () => {
    await insert("a", "queued", {
      id: "ja",
      state: "running",
      stateReason: "running",
      replicaId: "ja.a0.r0",
      ssh: { host: "h", port: 2200 },
    });
    await insert("b", "queued", {
      id: "jb",
      state: "queued",
      stateReason: "waiting: needs 3 h100 GPUs, 2 free",
    });
    await insert("c", "running", { id: "jc", state: "failed", stateReason: "exited with code 255" });
    await insert("d", "running", { id: "jd", state: "cancelled", stateReason: "cancelled by admin" });
    await sync.pass();
    expect(await workspaces.get("a")).toMatchObject({
      state: "running",
      endpoint: { host: "h", port: 2200 },
      startedAt: now,
    });
    expect(await workspaces.get("b")).toMatchObject({
      state: "queued",
      stateReason: "waiting: needs 3 h100 GPUs, 2 free",
    });
    expect(await workspaces.get("c")).toMatchObject({
      state: "failed",
      stateReason: "sshd ended: exited with code 255",
    });
    expect(await actions("c")).toContain("workspace.failed");
    expect((await workspaces.get("d"))?.state).toBe("stopped");
  });

  it("a deleted workspace goes once its job has ended, with its home unless kept", async () => {
    await insert("e", "deleting", { id: "je", state: "running", stateReason: "running" });
    await insert("f", "deleting", { id: "jf", state: "cancelled", stateReason: "cancelled" });
    await insert(
      "g",
      "deleting",
      { id: "jg", state: "cancelled", stateReason: "cancelled" },
      { keepHome: true },
    );
    await sync.pass();
    expect((await workspaces.get("e"))?.state).toBe("deleting");
    expect(await workspaces.get("f")).toBeUndefined();
    expect(await workspaces.get("g")).toBeUndefined();
    expect(deletedVolumes).toEqual(["ws-f-home"]);
    expect(await actions("f")).toContain("workspace.home_deleted");
    expect(await actions("g")).toContain("workspace.removed");
  });

  it("stops an idle running workspace and cancels its job; the agent's reports count as sessions", async () => {
    await insert(
      "h",
      "running",
      { id: "jh", state: "running", stateReason: "running", replicaId: "jh.a0.r0" },
      {
        lastActivityAt: now - 3_600_000,
      },
    );
    await insert(
      "i",
      "running",
      { id: "ji", state: "running", stateReason: "running", replicaId: "ji.a0.r0" },
      {
        lastActivityAt: now - 3_600_000,
      },
    );
    const agent = {
      userId: "u1",
      userName: "u1",
      role: "engineer" as const,
      tokenId: "t",
      scope: { projectId: "p1", jobId: "ji" },
    };
    expect(await sync.report(agent, { sessions: 2 })).toEqual({ notice: null });
    await sync.pass();
    expect(await workspaces.get("h")).toMatchObject({
      state: "stopping",
      stateReason: expect.stringMatching(/idle for 60m \(idle timeout 60m\)/),
    });
    expect(cancelled).toEqual(["jh"]);
    expect(await actions("h")).toContain("workspace.stopped_idle");
    expect(await workspaces.get("i")).toMatchObject({ state: "running", sessions: 2, lastActivityAt: now });
    await expect(sync.report({ ...agent, scope: undefined }, { sessions: 1 })).rejects.toThrow(/agent/);
  });
});
