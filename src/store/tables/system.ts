import type { Generated } from "kysely";

export interface AuditEventsTable {
  id: Generated<number>;
  at: number;
  actor: string;
  action: string;
  subject_type: string;
  subject_id: string;
  project_id: string | null;
  reason: string | null;
  /** JSON object. */
  details: string;
}

export interface LeasesTable {
  name: string;
  holder: string;
  acquired_at: number;
  renewed_at: number;
  expires_at: number;
}

export interface SystemTables {
  audit_events: AuditEventsTable;
  leases: LeasesTable;
}
