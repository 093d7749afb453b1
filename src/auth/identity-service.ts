import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { ConflictError, InputError, NotFoundError, UnauthenticatedError } from "../errors.js";
import { requireGlobal, requireHumanToken, requireProject } from "./authorization.js";
import type {
  IdentityStore,
  Project,
  ProjectMember,
  ProjectQuotas,
  TokenInfo,
  User,
} from "./identity-store.js";
import { actorOf, type Principal, SYSTEM_ACTOR, type TokenScope } from "./principal.js";
import { isRole, type Permission } from "./roles.js";
import { TokenCache } from "./token-cache.js";
import { generateToken, hashToken, tokenPrefix } from "./tokens.js";

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const DEFAULT_PROJECT = "default";

export function validateName(kind: string, name: unknown): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new InputError(
      `${kind} name must be 1-63 characters of a-z, 0-9, '.', '_', '-' starting with a letter or digit`,
    );
  }
  return name;
}

export interface IssuedToken {
  token: string;
  info: TokenInfo;
}

/**
 * How long a verified token is trusted without reading the database again. A revocation made through
 * this process applies at once; one made by another process sharing the database applies within this.
 */
export const TOKEN_CACHE_MS = 3000;

/** How long a hot-path project decision (`authorizeProjectCached`) is reused; any access change drops it. */
const PROJECT_DECISION_MS = 2000;

/** Users, tokens, projects and memberships. Every change is written to the audit log. */
export class IdentityService {
  private readonly tokens: TokenCache;
  /** `tokenId, projectId, permission` -> until when an allowed decision is reused. */
  private readonly decisions = new Map<string, number>();

  constructor(
    private readonly store: IdentityStore,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
    tokenCacheMs = TOKEN_CACHE_MS,
  ) {
    this.tokens = new TokenCache(tokenCacheMs);
  }

  /**
   * On an empty database: creates the admin user, its token (the given one or a new one) and the
   * `default` project. Returns the token only when it was generated here.
   */
  async bootstrap(adminToken?: string): Promise<{ created: boolean; generatedToken?: string }> {
    if ((await this.store.countUsers()) > 0) return { created: false };
    const admin: User = {
      id: randomUUID(),
      name: "admin",
      role: "admin",
      createdAt: this.now(),
      disabled: false,
    };
    await this.store.insertUser(admin);
    const token = adminToken ?? generateToken();
    await this.insertToken(admin.id, "bootstrap", token, null, null);
    await this.audit.record({
      actor: SYSTEM_ACTOR,
      action: "user.bootstrap",
      subjectType: "user",
      subjectId: admin.id,
      reason: "first start with an empty database",
    });
    await this.insertProject(
      DEFAULT_PROJECT,
      "Shared project every user can use with their platform role",
      admin,
    );
    return { created: true, generatedToken: adminToken ? undefined : token };
  }

  async authenticate(token: string | undefined): Promise<Principal> {
    if (!token) throw new UnauthenticatedError("missing API token: send 'Authorization: Bearer <token>'");
    const hash = hashToken(token);
    const now = this.now();
    const cached = this.tokens.get(hash, now);
    const info = cached ? cached.info : await this.store.findTokenByHash(hash);
    if (!info || info.revokedAt !== null) throw new UnauthenticatedError("invalid or revoked API token");
    // Checked on every request, cached or not: a token expires at exactly its time.
    if (info.expiresAt !== null && info.expiresAt <= now)
      throw new UnauthenticatedError("API token has expired");
    const user = cached ? cached.user : await this.store.findUser(info.userId);
    if (!user || user.disabled) throw new UnauthenticatedError("the token's user is disabled");
    // Recording every use would write on every request; once a minute is enough to show activity.
    if (info.lastUsedAt === null || now - info.lastUsedAt > 60_000) {
      await this.store.touchToken(info.id, now);
      info.lastUsedAt = now;
    }
    if (!cached) this.tokens.set(hash, info, user, now);
    return {
      userId: user.id,
      userName: user.name,
      role: user.role,
      tokenId: info.id,
      scope: info.scope ?? undefined,
    };
  }

  async createUser(principal: Principal, input: { name: string; role: string }): Promise<User> {
    requireGlobal(principal, "admin");
    const name = validateName("user", input.name);
    if (!isRole(input.role))
      throw new InputError(`unknown role '${input.role}': use admin, engineer, labeler or viewer`);
    if (await this.store.findUser(name)) throw new ConflictError(`user ${name} already exists`);
    const user: User = { id: randomUUID(), name, role: input.role, createdAt: this.now(), disabled: false };
    await this.store.insertUser(user);
    await this.audit.record({
      actor: actorOf(principal),
      action: "user.create",
      subjectType: "user",
      subjectId: user.id,
      details: { name, role: user.role },
    });
    return user;
  }

  async listUsers(principal: Principal): Promise<User[]> {
    requireGlobal(principal, "admin");
    return this.store.listUsers();
  }

  async getUser(idOrName: string): Promise<User> {
    const user = await this.store.findUser(idOrName);
    if (!user) throw new NotFoundError(`user ${idOrName} not found`);
    return user;
  }

  /** Creates a token for the caller, or (admins) for another user. */
  async createToken(
    principal: Principal,
    input: { name: string; user?: string; expiresInSeconds?: number },
  ): Promise<IssuedToken> {
    requireHumanToken(principal, "create tokens");
    const user = input.user ? await this.getUser(input.user) : await this.getUser(principal.userId);
    if (user.id !== principal.userId) requireGlobal(principal, "admin");
    if (input.expiresInSeconds !== undefined && !(input.expiresInSeconds > 0))
      throw new InputError("expiresInSeconds must be positive");
    const expiresAt = input.expiresInSeconds ? this.now() + input.expiresInSeconds * 1000 : null;
    const token = generateToken();
    const info = await this.insertToken(user.id, input.name || "token", token, null, expiresAt);
    await this.audit.record({
      actor: actorOf(principal),
      action: "token.create",
      subjectType: "token",
      subjectId: info.id,
      details: { user: user.name, name: info.name, expiresAt },
    });
    return { token, info };
  }

  /** A short-lived token for a workload, limited to its own job/run (no audit event: the job records it). */
  async issueWorkloadToken(userId: string, scope: TokenScope, ttlSeconds: number): Promise<IssuedToken> {
    const token = generateToken();
    const info = await this.insertToken(
      userId,
      `workload ${scope.jobId ?? scope.runId ?? ""}`.trim(),
      token,
      scope,
      this.now() + ttlSeconds * 1000,
    );
    return { token, info };
  }

  async listTokens(principal: Principal, user?: string): Promise<TokenInfo[]> {
    requireHumanToken(principal, "list tokens");
    if (user === "*") {
      requireGlobal(principal, "admin");
      return this.store.listTokens();
    }
    const target = user ? await this.getUser(user) : await this.getUser(principal.userId);
    if (target.id !== principal.userId) requireGlobal(principal, "admin");
    return this.store.listTokens(target.id);
  }

  async revokeToken(principal: Principal, tokenId: string): Promise<TokenInfo> {
    requireHumanToken(principal, "revoke tokens");
    const info = await this.store.findToken(tokenId);
    if (!info) throw new NotFoundError(`token ${tokenId} not found`);
    if (info.userId !== principal.userId) requireGlobal(principal, "admin");
    await this.store.revokeToken(info.id, this.now());
    this.tokens.forgetToken(info.id);
    this.accessChanged();
    await this.audit.record({
      actor: actorOf(principal),
      action: "token.revoke",
      subjectType: "token",
      subjectId: info.id,
    });
    return { ...info, revokedAt: info.revokedAt ?? this.now() };
  }

  async createProject(principal: Principal, input: { name: string; description?: string }): Promise<Project> {
    requireGlobal(principal, "write");
    const name = validateName("project", input.name);
    if (await this.store.findProject(name)) throw new ConflictError(`project ${name} already exists`);
    const creator = await this.getUser(principal.userId);
    return this.insertProject(name, input.description ?? "", creator);
  }

  async getProject(
    principal: Principal,
    idOrName: string,
    permission: Permission = "read",
  ): Promise<Project> {
    const project = await this.store.findProject(idOrName);
    if (!project) throw new NotFoundError(`project ${idOrName} not found`);
    await this.authorizeProject(principal, project, permission);
    return project;
  }

  /**
   * `authorizeProject` for the serving hot path: an allowed decision is reused for a moment, and dropped
   * at once by any membership change or token revocation made through this process (docs/security.md).
   */
  async authorizeProjectCached(principal: Principal, projectId: string, permission: Permission) {
    const key = `${principal.tokenId}\u0000${principal.userId}\u0000${projectId}\u0000${permission}`;
    const now = this.now();
    const until = this.decisions.get(key);
    if (until !== undefined && until > now) return;
    await this.getProject(principal, projectId, permission);
    if (this.decisions.size >= 10_000) this.decisions.clear();
    this.decisions.set(key, now + PROJECT_DECISION_MS);
  }

  /** Who may do what changed: nothing decided before may be reused. */
  private accessChanged(): void {
    this.decisions.clear();
  }

  /** Throws ForbiddenError unless the caller has `permission` in the project. */
  async authorizeProject(principal: Principal, project: Project, permission: Permission): Promise<void> {
    const memberRole = await this.store.findMemberRole(project.id, principal.userId);
    requireProject(principal, project, memberRole, permission);
  }

  async listProjects(principal: Principal): Promise<Project[]> {
    const all = await this.store.listProjects();
    if (principal.role === "admin" && !principal.scope) return all;
    const memberOf = new Set(await this.store.memberProjectIds(principal.userId));
    return all.filter(
      (p) => memberOf.has(p.id) || p.name === DEFAULT_PROJECT || principal.scope?.projectId === p.id,
    );
  }

  async setMember(
    principal: Principal,
    projectName: string,
    userName: string,
    role: string,
  ): Promise<ProjectMember> {
    const project = await this.getProject(principal, projectName, "manage");
    const user = await this.getUser(userName);
    if (!isRole(role)) throw new InputError(`unknown role '${role}': use admin, engineer, labeler or viewer`);
    const member = { projectId: project.id, userId: user.id, role, addedAt: this.now() };
    await this.store.upsertMember(member);
    this.accessChanged();
    await this.audit.record({
      actor: actorOf(principal),
      action: "project.member.set",
      subjectType: "project",
      subjectId: project.id,
      projectId: project.id,
      details: { user: user.name, role },
    });
    return { ...member, userName: user.name };
  }

  async removeMember(principal: Principal, projectName: string, userName: string): Promise<void> {
    const project = await this.getProject(principal, projectName, "manage");
    const user = await this.getUser(userName);
    if (!(await this.store.removeMember(project.id, user.id)))
      throw new NotFoundError(`${user.name} is not a member of ${project.name}`);
    this.accessChanged();
    await this.audit.record({
      actor: actorOf(principal),
      action: "project.member.remove",
      subjectType: "project",
      subjectId: project.id,
      projectId: project.id,
      details: { user: user.name },
    });
  }

  async listMembers(principal: Principal, projectName: string): Promise<ProjectMember[]> {
    const project = await this.getProject(principal, projectName, "read");
    return this.store.listMembers(project.id);
  }

  async setQuotas(principal: Principal, projectName: string, quotas: ProjectQuotas): Promise<Project> {
    requireGlobal(principal, "admin");
    const project = await this.getProject(principal, projectName, "manage");
    if (quotas.gpus !== undefined && !(Number.isInteger(quotas.gpus) && quotas.gpus >= 0))
      throw new InputError("quota gpus must be a non-negative integer");
    await this.store.updateProjectQuotas(project.id, quotas);
    await this.audit.record({
      actor: actorOf(principal),
      action: "project.quotas.set",
      subjectType: "project",
      subjectId: project.id,
      projectId: project.id,
      details: { ...quotas },
    });
    return { ...project, quotas };
  }

  private async insertToken(
    userId: string,
    name: string,
    token: string,
    scope: TokenScope | null,
    expiresAt: number | null,
  ): Promise<TokenInfo> {
    const info: TokenInfo = {
      id: randomUUID(),
      userId,
      name,
      prefix: tokenPrefix(token),
      scope,
      createdAt: this.now(),
      expiresAt,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.store.insertToken(info, hashToken(token));
    return info;
  }

  private async insertProject(name: string, description: string, creator: User): Promise<Project> {
    const project: Project = {
      id: randomUUID(),
      name,
      description,
      createdAt: this.now(),
      createdBy: creator.id,
      quotas: {},
    };
    await this.store.insertProject(project);
    await this.store.upsertMember({
      projectId: project.id,
      userId: creator.id,
      role: creator.role === "admin" ? "admin" : "engineer",
      addedAt: this.now(),
    });
    await this.audit.record({
      actor: creator.name,
      action: "project.create",
      subjectType: "project",
      subjectId: project.id,
      projectId: project.id,
      details: { name },
    });
    return project;
  }
}
