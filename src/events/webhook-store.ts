export interface Webhook {
  id: string;
  projectId: string;
  url: string;
  events: string[];
  createdAt: number;
  createdBy: string;
}

export type DeliveryStatus = "pending" | "succeeded" | "failed";

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface DeliveryAttempt {
  deliveryId: string;
  attempt: number;
  at: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** A due delivery with what is needed to send it. */
export interface ClaimedDelivery extends WebhookDelivery {
  url: string;
  secret: string;
  payload: string;
}

export interface AttemptOutcome extends Omit<DeliveryAttempt, "deliveryId" | "attempt"> {
  status: DeliveryStatus;
  nextAttemptAt: number | null;
}

/** Persistence of subscriptions and of the delivery queue (rows survive a restart). */
export interface WebhookStore {
  insertWebhook(webhook: Webhook, secret: string): Promise<void>;
  findWebhook(id: string): Promise<Webhook | undefined>;
  listWebhooks(projectId: string): Promise<Webhook[]>;
  deleteWebhook(id: string): Promise<boolean>;
  insertDeliveries(
    deliveries: Array<
      Pick<WebhookDelivery, "id" | "webhookId" | "eventId" | "eventType" | "createdAt"> & { payload: string }
    >,
  ): Promise<void>;
  /**
   * Pending deliveries due at `now`, each pushed to `now + leaseMs` with a conditional update so that a
   * second process (after a leader change) does not send the same attempt.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  recordAttempt(delivery: ClaimedDelivery, outcome: AttemptOutcome): Promise<void>;
  listDeliveries(webhookId: string, limit: number): Promise<WebhookDelivery[]>;
  listAttempts(deliveryIds: string[]): Promise<DeliveryAttempt[]>;
  /** Deliveries per status over all webhooks: `mlops_webhook_deliveries` on /metrics. */
  countDeliveriesByStatus(): Promise<Partial<Record<DeliveryStatus, number>>>;
}
