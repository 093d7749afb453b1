import type { ResourceHold } from "../../jobs/capacity-pool.js";
import type { Job, JobState } from "../../jobs/job.js";
import type {
  DeviceHold,
  JobEvent,
  JobQuery,
  JobReplica,
  JobStore,
  NewJobEvent,
  QueuedJobRow,
  ReplicaEnded,
  ReplicaStarted,
} from "../../jobs/job-store.js";
import type { Placement } from "../../jobs/scheduler.js";
import { replicaIdOf } from "../../runtime/runtime.js";
import type { Store } from "../open-store.js";
import { eventToRow, jobToRow, rowToEvent, rowToJob, rowToReplica, transitionColumns } from "./jobs-rows.js";

/** The gang's shape from the `distributed` column (none: one node, one rank). */
function gangOf(distributed: string | null): { nodes: number; procsPerNode: number } {
  if (!distributed) return { nodes: 1, procsPerNode: 1 };
  const spec = JSON.parse(distributed) as { nodes: number; procsPerNode: number };
  return { nodes: Number(spec.nodes), procsPerNode: Number(spec.procsPerNode) };
}

/** Thrown inside a claim's transaction to roll it back; never escapes the repository. */
class ClaimLost extends Error {}

export class SqlJobStore implements JobStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async insertJob(job: Job, event: NewJobEvent): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("jobs").values(jobToRow(job)).execute();
      await trx.insertInto("job_events").values(eventToRow(job.id, event)).execute();
    });
  }

  async getJob(id: string): Promise<Job | undefined> {
    const row = await this.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? rowToJob(row) : undefined;
  }

  async listJobs(query: JobQuery): Promise<Job[]> {
    let select = this.db.selectFrom("jobs").selectAll();
    if (query.projectIds !== undefined) {
      if (query.projectIds.length === 0) return [];
      select = select.where("project_id", "in", query.projectIds);
    }
    if (query.states !== undefined && query.states.length > 0)
      select = select.where("state", "in", query.states);
    const before = query.before;
    if (before) {
      select = select.where((eb) =>
        eb.or([
          eb("submitted_at", "<", before.submittedAt),
          eb.and([eb("submitted_at", "=", before.submittedAt), eb("id", "<", before.id)]),
        ]),
      );
    }
    const rows = await select
      .orderBy("submitted_at", "desc")
      .orderBy("id", "desc")
      .limit(query.limit)
      .execute();
    return rows.map(rowToJob);
  }

  async queuedJobs(): Promise<QueuedJobRow[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .select([
        "id",
        "project_id",
        "priority",
        "submitted_at",
        "replicas",
        "cpu",
        "memory_mib",
        "gpus",
        "gpu_type",
        "attempt",
        "distributed",
        "updated_at",
      ])
      .where("state", "=", "queued")
      .execute();
    return rows.map((row) => ({
      id: row.id,
      projectId: row.project_id,
      priority: Number(row.priority),
      submittedAt: Number(row.submitted_at),
      ...gangOf(row.distributed),
      attempt: Number(row.attempt),
      // A queued job's row changes only on transitions (wait reasons leave updated_at alone).
      queuedAt: Number(row.updated_at),
      resources: {
        cpu: Number(row.cpu),
        memoryMiB: Number(row.memory_mib),
        gpus: Number(row.gpus),
        ...(row.gpu_type ? { gpuType: row.gpu_type } : {}),
      },
    }));
  }

  async activeJobs(): Promise<Job[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("state", "in", ["scheduled", "running"])
      .execute();
    return rows.map(rowToJob);
  }

  async cancelRequestedJobs(): Promise<Job[]> {
    const rows = await this.db
      .selectFrom("jobs")
      .selectAll()
      .where("state", "in", ["scheduled", "running"])
      .where("cancel_requested", "=", 1)
      .execute();
    return rows.map(rowToJob);
  }

  async holds(): Promise<ResourceHold[]> {
    const rows = await this.db.selectFrom("resource_holds").selectAll().execute();
    return rows.map((row) => ({
      workloadId: row.workload_id,
      projectId: row.project_id,
      nodeId: row.node_id,
      cpu: Number(row.cpu),
      memoryMiB: Number(row.memory_mib),
      gpuUuids: JSON.parse(row.gpu_uuids) as string[],
    }));
  }

  async deviceHolds(): Promise<DeviceHold[]> {
    const rows = await this.db.selectFrom("gpu_holds").selectAll().orderBy("device_uuid").execute();
    return rows.map((row) => ({
      deviceUuid: row.device_uuid,
      workloadId: row.workload_id,
      replicaIndex: Number(row.replica_index),
      projectId: row.project_id,
      acquiredAt: Number(row.acquired_at),
    }));
  }

  async projectGpuQuotas(projectIds: readonly string[]): Promise<Map<string, { gpus?: number }>> {
    const quotas = new Map<string, { gpus?: number }>();
    if (projectIds.length === 0) return quotas;
    const rows = await this.db
      .selectFrom("projects")
      .select(["id", "quotas"])
      .where("id", "in", [...projectIds])
      .execute();
    for (const row of rows) {
      const parsed = JSON.parse(row.quotas || "{}") as { gpus?: unknown };
      if (typeof parsed.gpus === "number") quotas.set(row.id, { gpus: parsed.gpus });
    }
    return quotas;
  }

  async claimPlacement(placement: Placement, attempt: number, event: NewJobEvent): Promise<boolean> {
    const jobId = placement.jobId;
    try {
      await this.db.transaction().execute(async (trx) => {
        const claimed = await trx
          .updateTable("jobs")
          .set({ state: "scheduled", state_reason: event.reason, updated_at: event.at })
          .where("id", "=", jobId)
          .where("state", "=", "queued")
          .where("attempt", "=", attempt)
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) !== 1) throw new ClaimLost();
        // Rows of an earlier placement of this attempt that was released before it ran.
        await trx
          .deleteFrom("job_replicas")
          .where("job_id", "=", jobId)
          .where("attempt", "=", attempt)
          .execute();
        for (const replica of placement.replicas) {
          const gpuUuids = replica.gpus.map((device) => device.uuid);
          await trx
            .insertInto("resource_holds")
            .values({
              workload_id: jobId,
              replica_index: replica.replicaIndex,
              project_id: placement.projectId,
              node_id: replica.nodeId,
              cpu: replica.cpu,
              memory_mib: replica.memoryMiB,
              gpu_uuids: JSON.stringify(gpuUuids),
              acquired_at: event.at,
            })
            .execute();
          for (const uuid of gpuUuids) {
            await trx
              .insertInto("gpu_holds")
              .values({
                device_uuid: uuid,
                workload_id: jobId,
                replica_index: replica.replicaIndex,
                project_id: placement.projectId,
                acquired_at: event.at,
              })
              .execute();
          }
          await trx
            .insertInto("job_replicas")
            .values({
              replica_id: replicaIdOf({ jobId, attempt, replicaIndex: replica.replicaIndex }),
              job_id: jobId,
              attempt,
              replica_index: replica.replicaIndex,
              node_id: replica.nodeId,
              cpu: replica.cpu,
              memory_mib: replica.memoryMiB,
              gpu_uuids: JSON.stringify(gpuUuids),
              state: "placed",
            })
            .execute();
        }
        await trx.insertInto("job_events").values(eventToRow(jobId, event)).execute();
      });
      return true;
    } catch (err) {
      if (err instanceof ClaimLost) return false;
      // A device already held by another workload: the database refused the double hold.
      if (this.store.dialect.isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async transition(
    next: Job,
    expected: { state: JobState; attempt: number },
    event: NewJobEvent,
    options: { releaseHolds?: boolean } = {},
  ): Promise<boolean> {
    try {
      await this.db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable("jobs")
          .set(transitionColumns(next))
          .where("id", "=", next.id)
          .where("state", "=", expected.state)
          .where("attempt", "=", expected.attempt)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) !== 1) throw new ClaimLost();
        if (options.releaseHolds) {
          await trx.deleteFrom("gpu_holds").where("workload_id", "=", next.id).execute();
          await trx.deleteFrom("resource_holds").where("workload_id", "=", next.id).execute();
        }
        await trx.insertInto("job_events").values(eventToRow(next.id, event)).execute();
      });
      return true;
    } catch (err) {
      if (err instanceof ClaimLost) return false;
      throw err;
    }
  }

  async setWaitReasons(reasons: ReadonlyMap<string, string>): Promise<void> {
    if (reasons.size === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (const [id, reason] of reasons) {
        await trx
          .updateTable("jobs")
          .set({ state_reason: reason })
          .where("id", "=", id)
          .where("state", "=", "queued")
          .execute();
      }
    });
  }

  async requestCancel(jobId: string): Promise<boolean> {
    const result = await this.db
      .updateTable("jobs")
      .set({ cancel_requested: 1 })
      .where("id", "=", jobId)
      .where("state", "in", ["scheduled", "running"])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async setRun(jobId: string, run: { runId: string; experimentId: string }): Promise<void> {
    await this.db
      .updateTable("jobs")
      .set({ run_id: run.runId, experiment_id: run.experimentId })
      .where("id", "=", jobId)
      .execute();
  }

  async replicas(jobId: string, attempt?: number): Promise<JobReplica[]> {
    let select = this.db.selectFrom("job_replicas").selectAll().where("job_id", "=", jobId);
    if (attempt !== undefined) select = select.where("attempt", "=", attempt);
    const rows = await select.orderBy("attempt").orderBy("replica_index").execute();
    return rows.map(rowToReplica);
  }

  async runningReplicas(): Promise<JobReplica[]> {
    const rows = await this.db
      .selectFrom("job_replicas")
      .selectAll()
      .where("state", "=", "running")
      .execute();
    return rows.map(rowToReplica);
  }

  async markReplicaStarted(started: ReplicaStarted): Promise<void> {
    await this.db
      .updateTable("job_replicas")
      .set({
        state: "running",
        pid: started.pid,
        started_at: started.startedAt,
        endpoints: started.endpoints ? JSON.stringify(started.endpoints) : null,
      })
      .where("replica_id", "=", started.replicaId)
      .where("state", "=", "placed")
      .execute();
  }

  async markReplicaEnded(ended: ReplicaEnded): Promise<void> {
    await this.db
      .updateTable("job_replicas")
      .set({
        state: "ended",
        end_reason: ended.end,
        exit_code: ended.exitCode,
        signal: ended.signal,
        message: ended.message,
        ...(ended.startedAt !== null ? { started_at: ended.startedAt } : {}),
        ended_at: ended.endedAt,
        stdout_sha256: ended.stdoutSha256,
        stderr_sha256: ended.stderrSha256,
      })
      .where("replica_id", "=", ended.replicaId)
      .execute();
  }

  async events(jobId: string): Promise<JobEvent[]> {
    const rows = await this.db
      .selectFrom("job_events")
      .selectAll()
      .where("job_id", "=", jobId)
      .orderBy("id")
      .execute();
    return rows.map(rowToEvent);
  }

  async countByState(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom("jobs")
      .select((eb) => ["state", eb.fn.countAll<number>().as("n")])
      .groupBy("state")
      .execute();
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
  }
}
