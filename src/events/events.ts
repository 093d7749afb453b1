import type { AuditLog } from "../audit/audit-log.js";

/** A state change that others may react to: written to the audit log and sent to subscribed webhooks. */
export interface PlatformEvent {
  /** e.g. `model.version.transitioned`; also the audit action. */
  type: string;
  projectId: string;
  subjectType: string;
  subjectId: string;
  actor: string;
  reason?: string | null;
  data: Record<string, unknown>;
}

export interface EventPublisher {
  publish(event: PlatformEvent): Promise<void>;
}

/** The body a webhook receives (and signs). */
export interface EventEnvelope {
  /** The audit event id: one id per change, the same in the audit log and every delivery. */
  id: string;
  type: string;
  at: number;
  projectId: string;
  actor: string;
  reason: string | null;
  subject: { type: string; id: string };
  data: Record<string, unknown>;
}

/** Fan-out target of published events (the webhook service). */
export interface EventSubscribers {
  enqueue(envelope: EventEnvelope): Promise<number>;
}

/** Audit first (the record of truth), then the webhook deliveries. */
export class AuditedEventPublisher implements EventPublisher {
  constructor(
    private readonly audit: AuditLog,
    private readonly subscribers: EventSubscribers,
  ) {}

  async publish(event: PlatformEvent): Promise<void> {
    const recorded = await this.audit.record({
      actor: event.actor,
      action: event.type,
      subjectType: event.subjectType,
      subjectId: event.subjectId,
      projectId: event.projectId,
      reason: event.reason ?? null,
      details: event.data,
    });
    await this.subscribers.enqueue({
      id: String(recorded.id),
      type: event.type,
      at: recorded.at,
      projectId: event.projectId,
      actor: event.actor,
      reason: event.reason ?? null,
      subject: { type: event.subjectType, id: event.subjectId },
      data: event.data,
    });
  }
}

/** `*` matches everything, `model.*` every type under `model.`, anything else exactly. */
export function eventMatches(patterns: readonly string[], type: string): boolean {
  return patterns.some(
    (p) => p === "*" || p === type || (p.endsWith(".*") && type.startsWith(p.slice(0, -1))),
  );
}
