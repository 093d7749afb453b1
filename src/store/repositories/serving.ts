import type { Kysely, Selectable } from "kysely";
import { ConflictError } from "../../errors.js";
import type {
  AnalysisPlan,
  Deployment,
  DeploymentAction,
  DeploymentHistoryEntry,
  DeploymentState,
  Environment,
  LabelStudioSetup,
} from "../../serving/deployments/deployment.js";
import type { DeploymentStore } from "../../serving/deployments/deployment-store.js";
import type { Store } from "../open-store.js";
import type { Database } from "../schema.js";
import type { DeploymentHistoryTable, DeploymentsTable } from "../tables/serving.js";

type Db = Kysely<Database>;

export class SqlDeploymentStore implements DeploymentStore {
  constructor(private readonly store: Store) {}

  private get db(): Db {
    return this.store.db;
  }

  async insert(deployment: Deployment, first: Omit<DeploymentHistoryEntry, "id">): Promise<void> {
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx.insertInto("deployments").values(toRow(deployment)).execute();
        await trx.insertInto("deployment_history").values(toHistoryRow(first)).execute();
        await bumpGeneration(trx);
      });
    } catch (err) {
      if (this.store.dialect.isUniqueViolation(err)) {
        throw new ConflictError(`a deployment named ${deployment.name} already exists in this project`);
      }
      throw err;
    }
  }

  async update(
    next: Deployment,
    expectedRevision: number,
    entry: Omit<DeploymentHistoryEntry, "id">,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const { id, created_at, created_by, name, project_id, ...changes } = toRow(next);
      const result = await trx
        .updateTable("deployments")
        .set(changes)
        .where("id", "=", id)
        .where("revision", "=", expectedRevision)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.insertInto("deployment_history").values(toHistoryRow(entry)).execute();
      await bumpGeneration(trx);
      return true;
    });
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("deployment_history").where("deployment_id", "=", id).execute();
      await trx.deleteFrom("deployments").where("id", "=", id).execute();
      await bumpGeneration(trx);
    });
  }

  async findNamed(name: string): Promise<Deployment[]> {
    const rows = await this.db
      .selectFrom("deployments")
      .selectAll()
      .where("name", "=", name)
      .orderBy("created_at")
      .execute();
    return rows.map(fromRow);
  }

  async findById(id: string): Promise<Deployment | undefined> {
    const row = await this.db.selectFrom("deployments").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(filter: { projectIds?: string[] } = {}): Promise<Deployment[]> {
    let q = this.db.selectFrom("deployments").selectAll().orderBy("name");
    if (filter.projectIds) {
      if (filter.projectIds.length === 0) return [];
      q = q.where("project_id", "in", filter.projectIds);
    }
    return (await q.execute()).map(fromRow);
  }

  async history(deploymentId: string, limit = 500): Promise<DeploymentHistoryEntry[]> {
    const rows = await this.db
      .selectFrom("deployment_history")
      .selectAll()
      .where("deployment_id", "=", deploymentId)
      .orderBy("id", "asc")
      .limit(limit)
      .execute();
    return rows.map(fromHistoryRow);
  }

  async generation(): Promise<number> {
    const row = await this.db
      .selectFrom("serving_generation")
      .select("generation")
      .where("id", "=", 1)
      .executeTakeFirst();
    return Number(row?.generation ?? 0);
  }
}

async function bumpGeneration(db: Db): Promise<void> {
  await db
    .updateTable("serving_generation")
    .set((eb) => ({ generation: eb("generation", "+", 1) }))
    .where("id", "=", 1)
    .execute();
}

function toRow(d: Deployment): DeploymentsTable {
  return {
    id: d.id,
    name: d.name,
    project_id: d.projectId,
    model_id: d.modelId,
    model_name: d.modelName,
    environment: d.environment,
    state: d.state,
    primary_version_id: d.primaryVersionId,
    primary_version: d.primaryVersion,
    canary_version_id: d.canaryVersionId,
    canary_version: d.canaryVersion,
    canary_weight: d.canaryWeight,
    plan: d.plan ? JSON.stringify(d.plan) : null,
    canary_started_at: d.canaryStartedAt,
    step_started_at: d.stepStartedAt,
    failures: d.failures,
    label_studio: d.labelStudio ? JSON.stringify(d.labelStudio) : null,
    revision: d.revision,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
    created_by: d.createdBy,
  };
}

function fromRow(r: Selectable<DeploymentsTable>): Deployment {
  return {
    id: r.id,
    name: r.name,
    projectId: r.project_id,
    modelId: r.model_id,
    modelName: r.model_name,
    environment: r.environment as Environment,
    state: r.state as DeploymentState,
    primaryVersionId: r.primary_version_id,
    primaryVersion: Number(r.primary_version),
    canaryVersionId: r.canary_version_id,
    canaryVersion: r.canary_version === null ? null : Number(r.canary_version),
    canaryWeight: Number(r.canary_weight),
    plan: r.plan ? (JSON.parse(r.plan) as AnalysisPlan) : null,
    canaryStartedAt: r.canary_started_at === null ? null : Number(r.canary_started_at),
    stepStartedAt: r.step_started_at === null ? null : Number(r.step_started_at),
    failures: Number(r.failures),
    labelStudio: r.label_studio ? (JSON.parse(r.label_studio) as LabelStudioSetup) : null,
    revision: Number(r.revision),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by,
  };
}

function toHistoryRow(e: Omit<DeploymentHistoryEntry, "id">): Omit<DeploymentHistoryTable, "id"> {
  return {
    deployment_id: e.deploymentId,
    at: e.at,
    actor: e.actor,
    action: e.action,
    from_state: e.fromState,
    to_state: e.toState,
    reason: e.reason,
    primary_version: e.primaryVersion,
    canary_version: e.canaryVersion,
    canary_weight: e.canaryWeight,
    details: JSON.stringify(e.details),
  };
}

function fromHistoryRow(r: Selectable<DeploymentHistoryTable>): DeploymentHistoryEntry {
  return {
    id: Number(r.id),
    deploymentId: r.deployment_id,
    at: Number(r.at),
    actor: r.actor,
    action: r.action as DeploymentAction,
    fromState: r.from_state as DeploymentState | null,
    toState: r.to_state as DeploymentState,
    reason: r.reason,
    primaryVersion: Number(r.primary_version),
    canaryVersion: r.canary_version === null ? null : Number(r.canary_version),
    canaryWeight: Number(r.canary_weight),
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}
