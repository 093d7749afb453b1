export const ROLES = ["admin", "engineer", "labeler", "viewer"] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a role may do. `manage` covers a project's members and quotas; `admin` is platform-wide
 * administration (users, other people's tokens, leases). Labelers predict and submit labels, nothing more.
 */
export const PERMISSIONS = ["read", "write", "deploy", "predict", "label", "manage", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(PERMISSIONS),
  engineer: new Set<Permission>(["read", "write", "deploy", "predict", "label"]),
  labeler: new Set<Permission>(["predict", "label"]),
  viewer: new Set<Permission>(["read"]),
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission);
}
