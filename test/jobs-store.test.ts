import { afterEach, beforeEach, expect, it } from "vitest";
import { parseGpuDeclaration } from "../src/jobs/gpu-inventory.js";
import { createJob, type Job } from "../src/jobs/job.js";
import { applyJobTransition } from "../src/jobs/job-states.js";
import type { Placement } from "../src/jobs/scheduler.js";
import type { Store } from "../src/store/open-store.js";
import { SqlIdentityStore } from "../src/store/repositories/identity.js";
import { SqlJobStore } from "../src/store/repositories/jobs.js";
import { createMigratedStore, describeEachDatabase } from "./support/databases.js";

/** The jobs repository on both databases: conditional claims, the one-holder-per-device constraint. */
describeEachDatabase("job store", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let jobs: SqlJobStore;
  const gpus = parseGpuDeclaration("h100:2");
  let clock = 1_700_000_000_000;

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    jobs = new SqlJobStore(store);
    await new SqlIdentityStore(store).insertProject({
      id: "p1",
      name: "p1",
      description: "",
      createdAt: 0,
      createdBy: "u",
      quotas: { gpus: 3 },
    });
  });
  afterEach(async () => {
    await cleanup();
  });

  async function queued(id: string, gpuCount = 1): Promise<Job> {
    const job = createJob(
      {
        projectId: "p1",
        command: ["true"],
        resources: { gpus: gpuCount, cpu: 0.5, memoryMiB: 64 },
        priority: 2,
      },
      id,
      new Date(clock++),
    );
    await jobs.insertJob(job, {
      at: clock,
      from: null,
      to: "queued",
      attempt: 0,
      actor: "t",
      reason: "submitted",
      details: {},
    });
    return job;
  }

  const placement = (jobId: string, devices = [gpus[0]]): Placement => ({
    jobId,
    projectId: "p1",
    replicas: [{ replicaIndex: 0, nodeId: "local", cpu: 0.5, memoryMiB: 64, gpus: devices }],
  });
  const event = (reason: string) => ({
    at: clock++,
    from: "queued" as const,
    to: "scheduled" as const,
    attempt: 0,
    actor: "t",
    reason,
    details: {},
  });

  it("round-trips a job and lists it with filters and a cursor", async () => {
    const a = await queued("job-a");
    await queued("job-b", 0);
    expect(await jobs.getJob("job-a")).toEqual(a);
    const first = await jobs.listJobs({ projectIds: ["p1"], limit: 1 });
    expect(first.map((j) => j.id)).toEqual(["job-b"]);
    const next = await jobs.listJobs({
      projectIds: ["p1"],
      limit: 5,
      before: { submittedAt: Date.parse(first[0].submittedAt), id: first[0].id },
    });
    expect(next.map((j) => j.id)).toEqual(["job-a"]);
    expect(await jobs.listJobs({ projectIds: [], limit: 5 })).toEqual([]);
    expect((await jobs.queuedJobs()).map((j) => [j.id, j.resources.gpus, j.attempt])).toEqual(
      expect.arrayContaining([
        ["job-a", 1, 0],
        ["job-b", 0, 0],
      ]),
    );
    expect(await jobs.countByState()).toEqual({ queued: 2 });
    expect((await jobs.projectGpuQuotas(["p1"])).get("p1")).toEqual({ gpus: 3 });
  });

  it("two concurrent claims of one job: exactly one wins", async () => {
    await queued("job-a");
    const results = await Promise.all([
      jobs.claimPlacement(placement("job-a"), 0, event("first")),
      jobs.claimPlacement(placement("job-a", [gpus[1]]), 0, event("second")),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await jobs.getJob("job-a"))?.state).toBe("scheduled");
    expect(await jobs.holds()).toHaveLength(1);
    expect(await jobs.deviceHolds()).toHaveLength(1);
    expect(await jobs.replicas("job-a")).toHaveLength(1);
    expect((await jobs.events("job-a")).map((e) => e.to)).toEqual(["queued", "scheduled"]);
    // A claim for a stale attempt matches nothing either.
    expect(await jobs.claimPlacement(placement("job-a"), 1, event("stale"))).toBe(false);
  });

  it("the database refuses a device held by two workloads, and writes nothing for the loser", async () => {
    await queued("job-a");
    await queued("job-b");
    expect(await jobs.claimPlacement(placement("job-a"), 0, event("a"))).toBe(true);
    expect(await jobs.claimPlacement(placement("job-b"), 0, event("b"))).toBe(false);
    const b = await jobs.getJob("job-b");
    expect(b?.state).toBe("queued");
    expect(await jobs.replicas("job-b")).toEqual([]);
    expect((await jobs.events("job-b")).map((e) => e.to)).toEqual(["queued"]);
    expect((await jobs.deviceHolds()).map((h) => [h.deviceUuid, h.workloadId])).toEqual([
      [gpus[0].uuid, "job-a"],
    ]);

    // Freeing job-a's holds (with its transition) makes the device claimable again.
    const a = (await jobs.getJob("job-a"))!;
    const running = applyJobTransition(a, "running", "started").job;
    expect(
      await jobs.transition(
        running,
        { state: "scheduled", attempt: 0 },
        { ...event("x"), from: "scheduled", to: "running" },
      ),
    ).toBe(true);
    const done = applyJobTransition(running, "succeeded", "exited with code 0").job;
    // A writer with a stale view loses; the right one frees the device in the same transaction.
    expect(
      await jobs.transition(
        done,
        { state: "scheduled", attempt: 0 },
        { ...event("y"), from: "running", to: "succeeded" },
        { releaseHolds: true },
      ),
    ).toBe(false);
    expect(await jobs.deviceHolds()).toHaveLength(1);
    expect(
      await jobs.transition(
        done,
        { state: "running", attempt: 0 },
        { ...event("z"), from: "running", to: "succeeded" },
        { releaseHolds: true },
      ),
    ).toBe(true);
    expect(await jobs.deviceHolds()).toEqual([]);
    expect(await jobs.holds()).toEqual([]);
    expect(await jobs.claimPlacement(placement("job-b"), 0, event("b again"))).toBe(true);
  });

  it("keeps a gang's shape, the internal fields and where a replica's ports are reachable", async () => {
    const gang = createJob(
      {
        projectId: "p1",
        command: ["sshd"],
        resources: { gpus: 2, cpu: 1, memoryMiB: 128 },
        distributed: { nodes: 1, procsPerNode: 2 },
        kind: "workspace",
        ports: [{ name: "ssh" }],
        volumes: [{ name: "ws-1-home", mountPath: "/home/ana" }],
        user: { name: "ana", home: "/home/ana" },
      },
      "gang",
      new Date(clock++),
    );
    await jobs.insertJob(gang, {
      at: clock,
      from: null,
      to: "queued",
      attempt: 0,
      actor: "t",
      reason: "s",
      details: {},
    });
    expect(await jobs.getJob("gang")).toEqual(gang);
    expect((await jobs.queuedJobs()).find((q) => q.id === "gang")).toMatchObject({
      nodes: 1,
      procsPerNode: 2,
    });
    const ranks: Placement = {
      jobId: "gang",
      projectId: "p1",
      replicas: [0, 1].map((rank) => ({
        replicaIndex: rank,
        nodeId: "local",
        cpu: 0.5,
        memoryMiB: 64,
        gpus: [gpus[rank]],
      })),
    };
    expect(await jobs.claimPlacement(ranks, 0, event("placed"))).toBe(true);
    await jobs.markReplicaStarted({
      replicaId: "gang.a0.r1",
      pid: 7,
      startedAt: 5,
      endpoints: { ssh: { host: "127.0.0.1", port: 2222 } },
    });
    const replicas = await jobs.replicas("gang", 0);
    expect(replicas.map((r) => [r.replicaIndex, r.gpuUuids, r.endpoints])).toEqual([
      [0, [gpus[0].uuid], null],
      [1, [gpus[1].uuid], { ssh: { host: "127.0.0.1", port: 2222 } }],
    ]);
    expect((await jobs.runningReplicas()).map((r) => r.replicaId)).toEqual(["gang.a0.r1"]);
  });

  it("records replica starts and ends, cancel requests and wait reasons", async () => {
    await queued("job-a");
    await queued("job-b");
    await jobs.claimPlacement(placement("job-a"), 0, event("a"));
    const [replica] = await jobs.replicas("job-a", 0);
    expect(replica).toMatchObject({
      replicaId: "job-a.a0.r0",
      state: "placed",
      gpuUuids: [gpus[0].uuid],
      pid: null,
    });
    await jobs.markReplicaStarted({ replicaId: replica.replicaId, pid: 4242, startedAt: 5 });
    await jobs.markReplicaEnded({
      replicaId: replica.replicaId,
      end: "exited",
      exitCode: 3,
      signal: null,
      message: null,
      startedAt: null,
      endedAt: 9,
      stdoutSha256: "a".repeat(64),
      stderrSha256: null,
    });
    expect((await jobs.replicas("job-a"))[0]).toMatchObject({
      state: "ended",
      pid: 4242,
      startedAt: 5,
      endedAt: 9,
      exitCode: 3,
      end: "exited",
    });
    expect(await jobs.requestCancel("job-b")).toBe(false); // queued: cancelled directly, not requested
    expect(await jobs.requestCancel("job-a")).toBe(true);
    expect((await jobs.cancelRequestedJobs()).map((j) => j.id)).toEqual(["job-a"]);
    await jobs.setWaitReasons(
      new Map([
        ["job-a", "nope"],
        ["job-b", "waiting for 1 h100 GPU"],
      ]),
    );
    expect((await jobs.getJob("job-a"))?.stateReason).toBe("a");
    expect((await jobs.getJob("job-b"))?.stateReason).toBe("waiting for 1 h100 GPU");
  });
});
