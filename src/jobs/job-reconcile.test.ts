import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMigratedStore } from "../../test/support/databases.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { ReplicaExit, ReplicaStatus, Runtime } from "../runtime/runtime.js";
import type { Store } from "../store/open-store.js";
import { SqlIdentityStore } from "../store/repositories/identity.js";
import { SqlJobStore } from "../store/repositories/jobs.js";
import { parseGpuDeclaration } from "./gpu-inventory.js";
import { createJob } from "./job.js";
import { JobExecutor } from "./job-executor.js";
import type { JobLauncher } from "./job-launcher.js";
import { JobTransitions } from "./job-transitions.js";

/**
 * The executor's reconcile on taking the lease, for a job whose claim was recorded (`scheduled`) by a
 * control plane that died before its replica ran. The runtime is a recording stand-in answering with
 * the statuses under test (the local runtime's side of it is tested in runtime/local/reconcile.test.ts).
 */
describe("reconcile of a job claimed by a control plane that died", () => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let jobs: SqlJobStore;
  const calls: string[] = [];
  const gpu = parseGpuDeclaration("h100:1")[0];

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore("sqlite"));
    jobs = new SqlJobStore(store);
    calls.length = 0;
    await new SqlIdentityStore(store).insertProject({
      id: "p1",
      name: "p1",
      description: "",
      createdAt: 0,
      createdBy: "u",
      quotas: {},
    });
    const job = createJob(
      { projectId: "p1", command: ["true"], resources: { gpus: 1, cpu: 0.5, memoryMiB: 64 }, priority: 2 },
      "job-a",
      new Date(1_000),
    );
    await jobs.insertJob(job, {
      at: 1_000,
      from: null,
      to: "queued",
      attempt: 0,
      actor: "t",
      reason: "submitted",
      details: {},
    });
    const placement = {
      jobId: "job-a",
      projectId: "p1",
      replicas: [{ replicaIndex: 0, nodeId: "local", cpu: 0.5, memoryMiB: 64, gpus: [gpu] }],
    };
    const claimed = await jobs.claimPlacement(placement, 0, {
      at: 2_000,
      from: "queued",
      to: "scheduled",
      attempt: 0,
      actor: "scheduler",
      reason: "placed",
      details: {},
    });
    expect(claimed).toBe(true);
  });
  afterEach(async () => {
    await cleanup();
  });

  function executor(status: ReplicaStatus | null, launcher = {} as JobLauncher): JobExecutor {
    const runtime = {
      reconcile: async () => (status ? [status] : []),
      stop: async (id: string) => {
        calls.push(`stop ${id}`);
        return status?.exit;
      },
      remove: async (id: string) => {
        calls.push(`remove ${id}`);
      },
      wait: () => new Promise<ReplicaExit>(() => {}),
    } as unknown as Runtime;
    const audit = { record: async (event: object) => ({ ...event, id: 1 }) } as unknown as AuditLog;
    return new JobExecutor({
      store: jobs,
      runtime,
      launcher,
      transitions: new JobTransitions(jobs, audit),
      tracking: { createRun: async () => ({ runId: "", experimentId: "" }), endRun: async () => {} },
      archiveLogs: async () => ({ stdout: null, stderr: null }),
      revokeToken: async () => {},
      isLeader: () => true,
      serial: (work) => work(),
      wake: () => {},
      log: () => {},
    });
  }

  const lost = (neverStarted: boolean): ReplicaStatus => ({
    replicaId: "job-a.a0.r0",
    jobId: "job-a",
    attempt: 0,
    replicaIndex: 0,
    state: "lost",
    exit: {
      replicaId: "job-a.a0.r0",
      end: "lost",
      exitCode: null,
      signal: null,
      startedAt: new Date(2_000).toISOString(),
      endedAt: new Date(3_000).toISOString(),
      durationMs: 1_000,
      ...(neverStarted ? { neverStarted: true, message: "never started" } : { message: "supervisor gone" }),
    },
  });

  it("puts it back in the queue at no retry cost when the runtime says its replica never started", async () => {
    await executor(lost(true)).reconcile();
    const job = await jobs.getJob("job-a");
    expect(job).toMatchObject({
      state: "queued",
      attempt: 0,
      stateReason: "control plane restarted before the job started",
    });
    expect(await jobs.holds()).toEqual([]);
    // The replica's record is removed: the same attempt is placed again under the same replica id.
    expect(calls).toEqual(["remove job-a.a0.r0"]);
    expect((await jobs.queuedJobs()).map((queued) => queued.id)).toEqual(["job-a"]);
  });

  it("leaves a job alone that this process is starting right now (the lease regained after a pause)", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const launcher = {
      start: async () => {
        await gate;
        const startedAt = new Date(4_000).toISOString();
        return {
          tokenId: "t1",
          handles: [
            { replicaId: "job-a.a0.r0", pid: 42, startedAt, exited: new Promise<ReplicaExit>(() => {}) },
          ],
        };
      },
    } as unknown as JobLauncher;
    const running = executor(null, launcher);
    const launched = running.launch("job-a");
    // No runtime record yet: a reconcile of anyone else's claim would put the job back in the queue.
    await running.reconcile();
    expect((await jobs.getJob("job-a"))?.state).toBe("scheduled");
    release();
    await launched;
    expect((await jobs.getJob("job-a"))?.state).toBe("running");
    expect(calls).toEqual([]);
  });

  it("fails it when the replica may have run and was lost", async () => {
    await executor(lost(false)).reconcile();
    const job = await jobs.getJob("job-a");
    expect(job).toMatchObject({ state: "failed" });
    expect(job?.stateReason).toMatch(/lost track/);
  });
});
