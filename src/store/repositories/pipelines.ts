import type { Kysely, Transaction } from "kysely";
import type { PipelineRun, PipelineStep } from "../../pipelines/pipeline-run.js";
import { END_STATES } from "../../pipelines/pipeline-run.js";
import type { PipelineStore, RunListQuery, StepChange } from "../../pipelines/pipeline-store.js";
import type { RetrainPolicy } from "../../pipelines/policy.js";
import type { Store } from "../open-store.js";
import type { Database } from "../schema.js";
import { policyFromRow, policyToRow, runFromRow, runToRow, stepFromRow } from "./pipelines-rows.js";

type Db = Kysely<Database> | Transaction<Database>;

export class SqlPipelineStore implements PipelineStore {
  constructor(private readonly store: Store) {}

  private get db(): Kysely<Database> {
    return this.store.db;
  }

  async upsertPolicy(policy: RetrainPolicy): Promise<RetrainPolicy> {
    const row = policyToRow(policy);
    await this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom("retrain_policies")
        .select("id")
        .where("model_id", "=", policy.modelId)
        .executeTakeFirst();
      if (!existing) {
        await trx.insertInto("retrain_policies").values(row).execute();
        return;
      }
      // The trigger sequence, last firing, id and creation belong to the policy's history: a replace keeps them.
      const {
        id,
        trigger_seq,
        last_fired_at,
        threshold_met_at,
        created_at,
        created_by,
        model_id,
        project_id,
        ...changes
      } = row;
      await trx.updateTable("retrain_policies").set(changes).where("id", "=", existing.id).execute();
    });
    return (await this.findPolicyByModel(policy.modelId)) as RetrainPolicy;
  }

  async findPolicyByModel(modelId: string): Promise<RetrainPolicy | undefined> {
    const row = await this.db
      .selectFrom("retrain_policies")
      .selectAll()
      .where("model_id", "=", modelId)
      .executeTakeFirst();
    return row ? policyFromRow(row) : undefined;
  }

  async findPolicy(id: string): Promise<RetrainPolicy | undefined> {
    const row = await this.db
      .selectFrom("retrain_policies")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? policyFromRow(row) : undefined;
  }

  async listPolicies(filter: { projectIds?: string[]; activeOnly?: boolean }): Promise<RetrainPolicy[]> {
    let q = this.db.selectFrom("retrain_policies").selectAll().orderBy("model_name");
    if (filter.projectIds) {
      if (filter.projectIds.length === 0) return [];
      q = q.where("project_id", "in", filter.projectIds);
    }
    if (filter.activeOnly) q = q.where("paused", "=", 0);
    return (await q.execute()).map(policyFromRow);
  }

  async setPaused(policyId: string, paused: boolean, actor: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("retrain_policies")
      .set({ paused: paused ? 1 : 0, updated_at: at, updated_by: actor })
      .where("id", "=", policyId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async setThresholdMetAt(policyId: string, at: number | null): Promise<void> {
    let q = this.db.updateTable("retrain_policies").set({ threshold_met_at: at }).where("id", "=", policyId);
    // First sighting wins (two control planes); clearing is unconditional.
    if (at !== null) q = q.where("threshold_met_at", "is", null);
    await q.execute();
  }

  async claimTrigger(run: PipelineRun, expectedSeq: number, firstStep: StepChange["open"]): Promise<boolean> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        // Compare-and-set on the sequence: of two processes that read the same sequence, one moves it.
        const moved = await trx
          .updateTable("retrain_policies")
          .set({ trigger_seq: expectedSeq + 1, last_fired_at: run.createdAt, threshold_met_at: null })
          .where("id", "=", run.policyId)
          .where("trigger_seq", "=", expectedSeq)
          .where("paused", "=", 0)
          .executeTakeFirst();
        if (Number(moved.numUpdatedRows) !== 1) return false;
        await trx.insertInto("pipeline_runs").values(runToRow(run)).execute();
        if (firstStep) await openStep(trx, run.id, firstStep);
        return true;
      });
    } catch (err) {
      // The unique (policy, sequence) key: the other process's row is there.
      if (this.store.dialect.isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async getRun(id: string): Promise<PipelineRun | undefined> {
    const row = await this.db.selectFrom("pipeline_runs").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? runFromRow(row) : undefined;
  }

  async listRuns(query: RunListQuery): Promise<PipelineRun[]> {
    if (query.projectIds.length === 0) return [];
    let q = this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("project_id", "in", query.projectIds)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(query.limit);
    if (query.modelId) q = q.where("model_id", "=", query.modelId);
    if (query.states && query.states.length > 0) q = q.where("state", "in", query.states);
    return (await q.execute()).map(runFromRow);
  }

  async activeRuns(policyId?: string): Promise<PipelineRun[]> {
    let q = this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("state", "not in", [...END_STATES])
      .orderBy("created_at", "asc");
    if (policyId) q = q.where("policy_id", "=", policyId);
    return (await q.execute()).map(runFromRow);
  }

  async lastRun(policyId: string): Promise<PipelineRun | undefined> {
    const row = await this.db
      .selectFrom("pipeline_runs")
      .selectAll()
      .where("policy_id", "=", policyId)
      .orderBy("trigger_seq", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? runFromRow(row) : undefined;
  }

  async countRuns(policyId: string): Promise<number> {
    const row = await this.db
      .selectFrom("pipeline_runs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("policy_id", "=", policyId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async updateRun(next: PipelineRun, expectedRevision: number, change: StepChange = {}): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const { id, policy_id, trigger_seq, created_at, ...changes } = runToRow(next);
      const result = await trx
        .updateTable("pipeline_runs")
        .set(changes)
        .where("id", "=", id)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      if (change.close) {
        const open = await trx
          .selectFrom("pipeline_steps")
          .select(["id", "details"])
          .where("run_id", "=", id)
          .where("status", "=", "running")
          .execute();
        for (const row of open) {
          const details = {
            ...(JSON.parse(row.details) as Record<string, unknown>),
            ...change.close.details,
          };
          await trx
            .updateTable("pipeline_steps")
            .set({
              status: change.close.status,
              finished_at: change.close.at,
              reason: change.close.reason,
              details: JSON.stringify(details),
            })
            .where("id", "=", row.id)
            .execute();
        }
      }
      if (change.open) await openStep(trx, id, change.open);
      return true;
    });
  }

  async steps(runId: string): Promise<PipelineStep[]> {
    const rows = await this.db
      .selectFrom("pipeline_steps")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("id", "asc")
      .execute();
    return rows.map(stepFromRow);
  }

  async currentStep(runId: string): Promise<PipelineStep | undefined> {
    const row = await this.db
      .selectFrom("pipeline_steps")
      .selectAll()
      .where("run_id", "=", runId)
      .where("status", "=", "running")
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ? stepFromRow(row) : undefined;
  }

  async updateStep(
    stepId: number,
    patch: Partial<Pick<PipelineStep, "details" | "jobId" | "holder" | "resumes">>,
  ): Promise<void> {
    await this.db
      .updateTable("pipeline_steps")
      .set({
        ...(patch.details !== undefined ? { details: JSON.stringify(patch.details) } : {}),
        ...(patch.jobId !== undefined ? { job_id: patch.jobId } : {}),
        ...(patch.holder !== undefined ? { holder: patch.holder } : {}),
        ...(patch.resumes !== undefined ? { resumes: patch.resumes } : {}),
      })
      .where("id", "=", stepId)
      .execute();
  }
}

async function openStep(db: Db, runId: string, open: NonNullable<StepChange["open"]>): Promise<void> {
  await db
    .insertInto("pipeline_steps")
    .values({
      run_id: runId,
      step: open.step,
      status: "running",
      started_at: open.at,
      finished_at: null,
      reason: null,
      details: "{}",
      job_id: null,
      holder: open.holder,
      resumes: 0,
    })
    .execute();
}
