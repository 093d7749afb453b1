import type { Selectable } from "kysely";
import type {
  AttemptOutcome,
  ClaimedDelivery,
  DeliveryAttempt,
  DeliveryStatus,
  Webhook,
  WebhookDelivery,
  WebhookStore,
} from "../../events/webhook-store.js";
import type { Store } from "../open-store.js";
import type { WebhookDeliveriesTable, WebhooksTable } from "../tables/registry.js";

export class SqlWebhookStore implements WebhookStore {
  constructor(private readonly store: Store) {}

  async insertWebhook(w: Webhook, secret: string): Promise<void> {
    await this.store.db
      .insertInto("webhooks")
      .values({
        id: w.id,
        project_id: w.projectId,
        url: w.url,
        events: JSON.stringify(w.events),
        secret,
        created_at: w.createdAt,
        created_by: w.createdBy,
      })
      .execute();
  }

  async findWebhook(id: string): Promise<Webhook | undefined> {
    const row = await this.store.db
      .selectFrom("webhooks")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? toWebhook(row) : undefined;
  }

  async listWebhooks(projectId: string): Promise<Webhook[]> {
    const rows = await this.store.db
      .selectFrom("webhooks")
      .selectAll()
      .where("project_id", "=", projectId)
      .orderBy("created_at")
      .execute();
    return rows.map(toWebhook);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    const result = await this.store.db.deleteFrom("webhooks").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async insertDeliveries(
    deliveries: Array<
      Pick<WebhookDelivery, "id" | "webhookId" | "eventId" | "eventType" | "createdAt"> & { payload: string }
    >,
  ): Promise<void> {
    if (deliveries.length === 0) return;
    await this.store.db
      .insertInto("webhook_deliveries")
      .values(
        deliveries.map((d) => ({
          id: d.id,
          webhook_id: d.webhookId,
          event_id: d.eventId,
          event_type: d.eventType,
          payload: d.payload,
          status: "pending",
          attempts: 0,
          next_attempt_at: d.createdAt,
          last_status_code: null,
          last_error: null,
          created_at: d.createdAt,
          updated_at: d.createdAt,
        })),
      )
      .execute();
  }

  async claimDue(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const due = await this.store.db
      .selectFrom("webhook_deliveries")
      .innerJoin("webhooks", "webhooks.id", "webhook_deliveries.webhook_id")
      .selectAll("webhook_deliveries")
      .select(["webhooks.url", "webhooks.secret"])
      .where("webhook_deliveries.status", "=", "pending")
      .where("webhook_deliveries.next_attempt_at", "<=", now)
      .orderBy("webhook_deliveries.next_attempt_at")
      .limit(limit)
      .execute();
    const claimed: ClaimedDelivery[] = [];
    for (const row of due) {
      // Conditional on the value we read: whoever moves it first owns this attempt.
      const result = await this.store.db
        .updateTable("webhook_deliveries")
        .set({ next_attempt_at: now + leaseMs })
        .where("id", "=", row.id)
        .where("status", "=", "pending")
        .where("next_attempt_at", "=", row.next_attempt_at)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 1) {
        claimed.push({ ...toDelivery(row), url: row.url, secret: row.secret, payload: row.payload });
      }
    }
    return claimed;
  }

  async recordAttempt(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<void> {
    const attempt = delivery.attempts + 1;
    await this.store.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("webhook_attempts")
        .values({
          delivery_id: delivery.id,
          attempt,
          at: outcome.at,
          status_code: outcome.statusCode,
          error: outcome.error,
          duration_ms: outcome.durationMs,
        })
        .execute();
      await trx
        .updateTable("webhook_deliveries")
        .set({
          status: outcome.status,
          attempts: attempt,
          next_attempt_at: outcome.nextAttemptAt,
          last_status_code: outcome.statusCode,
          last_error: outcome.error,
          updated_at: outcome.at,
        })
        .where("id", "=", delivery.id)
        .execute();
    });
  }

  async listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]> {
    const rows = await this.store.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where("webhook_id", "=", webhookId)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  async countDeliveriesByStatus(): Promise<Partial<Record<DeliveryStatus, number>>> {
    const rows = await this.store.db
      .selectFrom("webhook_deliveries")
      .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
      .groupBy("status")
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status as DeliveryStatus, Number(r.n)]));
  }

  async listAttempts(deliveryIds: string[]): Promise<DeliveryAttempt[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await this.store.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .where("delivery_id", "in", deliveryIds)
      .orderBy("delivery_id")
      .orderBy("attempt")
      .execute();
    return rows.map((r) => ({
      deliveryId: r.delivery_id,
      attempt: Number(r.attempt),
      at: Number(r.at),
      statusCode: r.status_code === null ? null : Number(r.status_code),
      error: r.error,
      durationMs: Number(r.duration_ms),
    }));
  }
}

function toWebhook(r: Selectable<WebhooksTable>): Webhook {
  return {
    id: r.id,
    projectId: r.project_id,
    url: r.url,
    events: JSON.parse(r.events) as string[],
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
  };
}

function toDelivery(r: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: r.id,
    webhookId: r.webhook_id,
    eventId: r.event_id,
    eventType: r.event_type,
    status: r.status as DeliveryStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at === null ? null : Number(r.next_attempt_at),
    lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
