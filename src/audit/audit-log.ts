/** One recorded state change. Append-only: there is no update or delete. */
export interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  projectId: string | null;
  reason: string | null;
  details: Record<string, unknown>;
}

export type NewAuditEvent = Omit<AuditEvent, "id" | "at" | "projectId" | "reason" | "details"> & {
  projectId?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
  at?: number;
};

export interface AuditQuery {
  subjectType?: string;
  subjectId?: string;
  action?: string;
  actor?: string;
  projectId?: string;
  /** Cursor: return events with id < before (newest first). */
  before?: number;
  limit?: number;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `before` to get the next (older) page; absent on the last page. */
  nextCursor?: number;
}

export interface AuditLog {
  record(event: NewAuditEvent): Promise<AuditEvent>;
  query(query: AuditQuery): Promise<AuditPage>;
}

export const MAX_AUDIT_PAGE = 500;
