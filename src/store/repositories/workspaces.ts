import type { Selectable } from "kysely";
import type { Workspace, WorkspaceState } from "../../workspaces/workspace.js";
import type { SshKeyRecord, WorkspaceLimits, WorkspaceStore } from "../../workspaces/workspace-store.js";
import type { Store } from "../open-store.js";
import type { SshKeysTable, WorkspacesTable } from "../tables/workspaces.js";

const ACTIVE: readonly WorkspaceState[] = ["queued", "running", "stopping"];

export class SqlWorkspaceStore implements WorkspaceStore {
  constructor(private readonly store: Store) {}

  async insert(workspace: Workspace, hostPrivateKey: string): Promise<void> {
    await this.store.db
      .insertInto("workspaces")
      .values({ ...toRow(workspace), host_private_key: hostPrivateKey })
      .execute();
  }

  async get(id: string): Promise<Workspace | undefined> {
    const row = await this.store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async findByName(projectId: string, ownerId: string, name: string): Promise<Workspace | undefined> {
    const row = await this.store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("project_id", "=", projectId)
      .where("owner_id", "=", ownerId)
      .where("name", "=", name)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async findByJob(jobId: string): Promise<Workspace | undefined> {
    const row = await this.store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("job_id", "=", jobId)
      .executeTakeFirst();
    return row ? toWorkspace(row) : undefined;
  }

  async list(query: { projectIds: readonly string[]; ownerId?: string }): Promise<Workspace[]> {
    if (query.projectIds.length === 0) return [];
    let select = this.store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("project_id", "in", [...query.projectIds]);
    if (query.ownerId) select = select.where("owner_id", "=", query.ownerId);
    const rows = await select.orderBy("created_at", "desc").orderBy("id").execute();
    return rows.map(toWorkspace);
  }

  async inStates(states: readonly WorkspaceState[]): Promise<Workspace[]> {
    if (states.length === 0) return [];
    const rows = await this.store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("state", "in", [...states])
      .orderBy("created_at")
      .execute();
    return rows.map(toWorkspace);
  }

  async update(next: Workspace, expectedState: WorkspaceState): Promise<boolean> {
    const { id, host_public_key, host_key_fingerprint, created_at, ...changes } = toRow(next);
    const result = await this.store.db
      .updateTable("workspaces")
      .set(changes)
      .where("id", "=", id)
      .where("state", "=", expectedState)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async recordActivity(
    id: string,
    activity: Pick<Workspace, "sessions" | "lastReportAt" | "lastActivityAt" | "idleWarnedAt" | "notice">,
  ): Promise<void> {
    await this.store.db
      .updateTable("workspaces")
      .set({
        sessions: activity.sessions,
        last_report_at: activity.lastReportAt,
        last_activity_at: activity.lastActivityAt,
        idle_warned_at: activity.idleWarnedAt,
        notice: activity.notice,
      })
      .where("id", "=", id)
      .execute();
  }

  async hostPrivateKey(id: string): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom("workspaces")
      .select("host_private_key")
      .where("id", "=", id)
      .executeTakeFirst();
    return row?.host_private_key;
  }

  async remove(id: string): Promise<void> {
    await this.store.db.deleteFrom("workspaces").where("id", "=", id).execute();
  }

  async activeGpus(projectId: string, exceptId?: string): Promise<number> {
    let select = this.store.db
      .selectFrom("workspaces")
      .select((eb) => eb.fn.sum<number | string | null>("gpus").as("gpus"))
      .where("project_id", "=", projectId)
      .where("state", "in", [...ACTIVE]);
    if (exceptId) select = select.where("id", "!=", exceptId);
    const row = await select.executeTakeFirst();
    return Number(row?.gpus ?? 0);
  }

  async countByState(): Promise<Record<string, number>> {
    const rows = await this.store.db
      .selectFrom("workspaces")
      .select(["state", (eb) => eb.fn.countAll<number | string>().as("count")])
      .groupBy("state")
      .execute();
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
  }

  async insertKey(key: SshKeyRecord): Promise<void> {
    await this.store.db
      .insertInto("ssh_keys")
      .values({
        id: key.id,
        user_id: key.userId,
        name: key.name,
        type: key.type,
        public_key: key.publicKey,
        fingerprint: key.fingerprint,
        comment: key.comment,
        created_at: key.createdAt,
      })
      .execute();
  }

  async keysOf(userId: string): Promise<SshKeyRecord[]> {
    const rows = await this.store.db
      .selectFrom("ssh_keys")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toKey);
  }

  async removeKey(userId: string, id: string): Promise<boolean> {
    const result = await this.store.db
      .deleteFrom("ssh_keys")
      .where("user_id", "=", userId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async limits(projectId: string): Promise<WorkspaceLimits | undefined> {
    const row = await this.store.db
      .selectFrom("workspace_limits")
      .selectAll()
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return row
      ? { projectId: row.project_id, maxGpus: row.max_gpus, maxLifetimeSeconds: row.max_lifetime_seconds }
      : undefined;
  }

  async setLimits(limits: WorkspaceLimits): Promise<void> {
    await this.store.db
      .insertInto("workspace_limits")
      .values({
        project_id: limits.projectId,
        max_gpus: limits.maxGpus,
        max_lifetime_seconds: limits.maxLifetimeSeconds,
      })
      .onConflict((oc) =>
        oc.column("project_id").doUpdateSet({
          max_gpus: limits.maxGpus,
          max_lifetime_seconds: limits.maxLifetimeSeconds,
        }),
      )
      .execute();
  }
}

function toRow(w: Workspace): Omit<WorkspacesTable, "host_private_key"> {
  return {
    id: w.id,
    project_id: w.projectId,
    name: w.name,
    owner_id: w.ownerId,
    owner_name: w.ownerName,
    login_user: w.loginUser,
    cpu: w.resources.cpu,
    memory_mib: w.resources.memoryMiB,
    gpus: w.resources.gpus,
    gpu_type: w.resources.gpuType ?? null,
    image: w.image ?? null,
    idle_timeout_seconds: w.idleTimeoutSeconds,
    state: w.state,
    state_reason: w.stateReason,
    job_id: w.jobId,
    endpoint: w.endpoint ? JSON.stringify(w.endpoint) : null,
    host_public_key: w.hostPublicKey,
    host_key_fingerprint: w.hostKeyFingerprint,
    keep_home: w.keepHome ? 1 : 0,
    created_at: w.createdAt,
    updated_at: w.updatedAt,
    started_at: w.startedAt,
    last_activity_at: w.lastActivityAt,
    sessions: w.sessions,
    last_report_at: w.lastReportAt,
    idle_warned_at: w.idleWarnedAt,
    notice: w.notice,
  };
}

function toWorkspace(row: Selectable<WorkspacesTable>): Workspace {
  return {
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    ownerId: row.owner_id,
    ownerName: row.owner_name,
    loginUser: row.login_user,
    resources: {
      cpu: Number(row.cpu),
      memoryMiB: row.memory_mib,
      gpus: row.gpus,
      ...(row.gpu_type ? { gpuType: row.gpu_type } : {}),
    },
    ...(row.image ? { image: row.image } : {}),
    idleTimeoutSeconds: row.idle_timeout_seconds,
    state: row.state as WorkspaceState,
    stateReason: row.state_reason,
    jobId: row.job_id,
    endpoint: row.endpoint ? (JSON.parse(row.endpoint) as Workspace["endpoint"]) : null,
    hostPublicKey: row.host_public_key,
    hostKeyFingerprint: row.host_key_fingerprint,
    keepHome: row.keep_home === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    startedAt: nullableNumber(row.started_at),
    lastActivityAt: nullableNumber(row.last_activity_at),
    sessions: row.sessions,
    lastReportAt: nullableNumber(row.last_report_at),
    idleWarnedAt: nullableNumber(row.idle_warned_at),
    notice: row.notice,
  };
}

function toKey(row: Selectable<SshKeysTable>): SshKeyRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    type: row.type,
    publicKey: row.public_key,
    fingerprint: row.fingerprint,
    comment: row.comment,
    createdAt: Number(row.created_at),
  };
}

function nullableNumber(value: number | null): number | null {
  return value === null ? null : Number(value);
}
