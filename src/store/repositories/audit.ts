import {
  type AuditEvent,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  MAX_AUDIT_PAGE,
  type NewAuditEvent,
} from "../../audit/audit-log.js";
import type { Selectable } from "kysely";
import type { Store } from "../open-store.js";
import type { AuditEventsTable } from "../tables/system.js";

export class SqlAuditLog implements AuditLog {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewAuditEvent): Promise<AuditEvent> {
    const row = {
      at: event.at ?? this.now(),
      actor: event.actor,
      action: event.action,
      subject_type: event.subjectType,
      subject_id: event.subjectId,
      project_id: event.projectId ?? null,
      reason: event.reason ?? null,
      details: JSON.stringify(event.details ?? {}),
    };
    const inserted = await this.store.db
      .insertInto("audit_events")
      .values(row)
      .returning("id")
      .executeTakeFirstOrThrow();
    return toEvent({ ...row, id: Number(inserted.id) });
  }

  async query(query: AuditQuery): Promise<AuditPage> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), MAX_AUDIT_PAGE);
    let q = this.store.db.selectFrom("audit_events").selectAll();
    if (query.subjectType) q = q.where("subject_type", "=", query.subjectType);
    if (query.subjectId) q = q.where("subject_id", "=", query.subjectId);
    if (query.action) q = q.where("action", "=", query.action);
    if (query.actor) q = q.where("actor", "=", query.actor);
    if (query.projectId) q = q.where("project_id", "=", query.projectId);
    if (query.before !== undefined) q = q.where("id", "<", query.before);
    const rows = await q
      .orderBy("id", "desc")
      .limit(limit + 1)
      .execute();
    const events = rows.slice(0, limit).map((r) => toEvent({ ...r, id: Number(r.id) }));
    return rows.length > limit ? { events, nextCursor: events[events.length - 1].id } : { events };
  }
}

function toEvent(r: Omit<Selectable<AuditEventsTable>, "id"> & { id: number }): AuditEvent {
  return {
    id: r.id,
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    subjectType: r.subject_type,
    subjectId: r.subject_id,
    projectId: r.project_id,
    reason: r.reason,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}
