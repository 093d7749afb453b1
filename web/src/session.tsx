import { createContext, useContext } from "react";

/** Who is signed in, and what their role lets them do in the selected project (mirrors src/auth/roles.ts). */

export type Role = "admin" | "engineer" | "labeler" | "viewer";
export type Permission = "read" | "write" | "deploy" | "predict" | "label" | "manage" | "admin";

const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: ["read", "write", "deploy", "predict", "label", "manage", "admin"],
  engineer: ["read", "write", "deploy", "predict", "label"],
  labeler: ["predict", "label"],
  viewer: ["read"],
};

export interface User {
  id: string;
  name: string;
  role: Role;
}

export interface Project {
  id: string;
  name: string;
  description: string;
}

export interface Member {
  userId: string;
  userName: string;
  role: Role;
}

/** The caller's role in a project, as the server decides it (src/auth/authorization.ts). */
export function effectiveRole(user: User, project: Project, members: Member[] | undefined): Role | undefined {
  if (user.role === "admin") return "admin";
  const member = members?.find((m) => m.userId === user.id);
  if (member) return member.role;
  if (project.name === "default") return user.role;
  return undefined;
}

export function roleAllows(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && ROLE_PERMISSIONS[role].includes(permission);
}

export interface Session {
  user: User;
  project: Project;
  projects: Project[];
  role: Role | undefined;
  can: (permission: Permission) => boolean;
  selectProject: (name: string) => void;
  signOut: () => void;
}

export const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

export const TOKEN_KEY = "mlops.token";
export const PROJECT_KEY = "mlops.project";
