import type { TokenScope } from "./principal.js";
import type { Role } from "./roles.js";

export interface User {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  disabled: boolean;
}

export interface TokenInfo {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  scope: TokenScope | null;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export interface Project {
  id: string;
  name: string;
  description: string;
  createdAt: number;
  createdBy: string;
  quotas: ProjectQuotas;
}

export interface ProjectQuotas {
  /** Maximum GPUs the project's workloads may hold at once. */
  gpus?: number;
}

export interface ProjectMember {
  projectId: string;
  userId: string;
  userName: string;
  role: Role;
  addedAt: number;
}

/** Persistence for users, tokens, projects and memberships. */
export interface IdentityStore {
  countUsers(): Promise<number>;
  insertUser(user: User): Promise<void>;
  findUser(idOrName: string): Promise<User | undefined>;
  listUsers(): Promise<User[]>;
  insertToken(token: TokenInfo, tokenHash: string): Promise<void>;
  findTokenByHash(tokenHash: string): Promise<TokenInfo | undefined>;
  findToken(id: string): Promise<TokenInfo | undefined>;
  listTokens(userId?: string): Promise<TokenInfo[]>;
  revokeToken(id: string, at: number): Promise<void>;
  touchToken(id: string, at: number): Promise<void>;
  insertProject(project: Project): Promise<void>;
  findProject(idOrName: string): Promise<Project | undefined>;
  listProjects(): Promise<Project[]>;
  updateProjectQuotas(id: string, quotas: ProjectQuotas): Promise<void>;
  upsertMember(member: Omit<ProjectMember, "userName">): Promise<void>;
  removeMember(projectId: string, userId: string): Promise<boolean>;
  listMembers(projectId: string): Promise<ProjectMember[]>;
  findMemberRole(projectId: string, userId: string): Promise<Role | undefined>;
  /** Projects the user is a member of. */
  memberProjectIds(userId: string): Promise<string[]>;
}
