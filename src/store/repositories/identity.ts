import type {
  IdentityStore,
  Project,
  ProjectMember,
  ProjectQuotas,
  TokenInfo,
  User,
} from "../../auth/identity-store.js";
import type { Role } from "../../auth/roles.js";
import type { Selectable } from "kysely";
import type { Store } from "../open-store.js";
import type { ProjectsTable, TokensTable, UsersTable } from "../tables/identity.js";

export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async countUsers(): Promise<number> {
    const row = await this.db
      .selectFrom("users")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async insertUser(user: User): Promise<void> {
    await this.db
      .insertInto("users")
      .values({
        id: user.id,
        name: user.name,
        role: user.role,
        created_at: user.createdAt,
        disabled: user.disabled ? 1 : 0,
      })
      .execute();
  }

  async findUser(idOrName: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async listUsers(): Promise<User[]> {
    return (await this.db.selectFrom("users").selectAll().orderBy("name").execute()).map(toUser);
  }

  async insertToken(token: TokenInfo, tokenHash: string): Promise<void> {
    await this.db
      .insertInto("tokens")
      .values({
        id: token.id,
        user_id: token.userId,
        name: token.name,
        token_hash: tokenHash,
        prefix: token.prefix,
        scope: token.scope ? JSON.stringify(token.scope) : null,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        revoked_at: null,
        last_used_at: null,
      })
      .execute();
  }

  async findTokenByHash(tokenHash: string): Promise<TokenInfo | undefined> {
    const row = await this.db
      .selectFrom("tokens")
      .selectAll()
      .where("token_hash", "=", tokenHash)
      .executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async findToken(id: string): Promise<TokenInfo | undefined> {
    const row = await this.db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async listTokens(userId?: string): Promise<TokenInfo[]> {
    let q = this.db.selectFrom("tokens").selectAll();
    if (userId) q = q.where("user_id", "=", userId);
    return (await q.orderBy("created_at").execute()).map(toToken);
  }

  async revokeToken(id: string, at: number): Promise<void> {
    await this.db
      .updateTable("tokens")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .execute();
  }

  async touchToken(id: string, at: number): Promise<void> {
    await this.db.updateTable("tokens").set({ last_used_at: at }).where("id", "=", id).execute();
  }

  async insertProject(project: Project): Promise<void> {
    await this.db
      .insertInto("projects")
      .values({
        id: project.id,
        name: project.name,
        description: project.description,
        created_at: project.createdAt,
        created_by: project.createdBy,
        quotas: JSON.stringify(project.quotas),
      })
      .execute();
  }

  async findProject(idOrName: string): Promise<Project | undefined> {
    const row = await this.db
      .selectFrom("projects")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", idOrName), eb("name", "=", idOrName)]))
      .executeTakeFirst();
    return row ? toProject(row) : undefined;
  }

  async listProjects(): Promise<Project[]> {
    return (await this.db.selectFrom("projects").selectAll().orderBy("name").execute()).map(toProject);
  }

  async updateProjectQuotas(id: string, quotas: ProjectQuotas): Promise<void> {
    await this.db
      .updateTable("projects")
      .set({ quotas: JSON.stringify(quotas) })
      .where("id", "=", id)
      .execute();
  }

  async upsertMember(member: Omit<ProjectMember, "userName">): Promise<void> {
    await this.db
      .insertInto("project_members")
      .values({
        project_id: member.projectId,
        user_id: member.userId,
        role: member.role,
        added_at: member.addedAt,
      })
      .onConflict((oc) => oc.columns(["project_id", "user_id"]).doUpdateSet({ role: member.role }))
      .execute();
  }

  async removeMember(projectId: string, userId: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom("project_members")
      .where("project_id", "=", projectId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listMembers(projectId: string): Promise<ProjectMember[]> {
    const rows = await this.db
      .selectFrom("project_members")
      .innerJoin("users", "users.id", "project_members.user_id")
      .select([
        "project_members.project_id",
        "project_members.user_id",
        "users.name",
        "project_members.role",
        "project_members.added_at",
      ])
      .where("project_members.project_id", "=", projectId)
      .orderBy("users.name")
      .execute();
    return rows.map((r) => ({
      projectId: r.project_id,
      userId: r.user_id,
      userName: r.name,
      role: r.role as Role,
      addedAt: Number(r.added_at),
    }));
  }

  async findMemberRole(projectId: string, userId: string): Promise<Role | undefined> {
    const row = await this.db
      .selectFrom("project_members")
      .select("role")
      .where("project_id", "=", projectId)
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row?.role as Role | undefined;
  }

  async memberProjectIds(userId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("project_members")
      .select("project_id")
      .where("user_id", "=", userId)
      .execute();
    return rows.map((r) => r.project_id);
  }
}

function toUser(r: Selectable<UsersTable>): User {
  return {
    id: r.id,
    name: r.name,
    role: r.role as Role,
    createdAt: Number(r.created_at),
    disabled: Number(r.disabled) === 1,
  };
}

function toToken(r: Selectable<TokensTable>): TokenInfo {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    prefix: r.prefix,
    scope: r.scope ? JSON.parse(r.scope) : null,
    createdAt: Number(r.created_at),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}

function toProject(r: Selectable<ProjectsTable>): Project {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    quotas: JSON.parse(r.quotas) as ProjectQuotas,
  };
}
