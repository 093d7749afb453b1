import { createHmac, randomUUID } from "node:crypto";
import { isIP } from "node:net";
import type { AuditLog } from "../audit/audit-log.js";
import type { IdentityService } from "../auth/identity-service.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { EgressPolicy } from "../egress/egress-policy.js";
import { InputError, NotFoundError } from "../errors.js";
import { type EventEnvelope, type EventSubscribers, eventMatches } from "./events.js";
import type { DeliveryAttempt, Webhook, WebhookDelivery, WebhookStore } from "./webhook-store.js";

export const SIGNATURE_HEADER = "x-mlops-signature";

/** `sha256=<hex HMAC-SHA256(secret, raw body)>`, the value of X-Mlops-Signature. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

export interface NewWebhook {
  url: string;
  events: string[];
  secret: string;
}

export interface DeliveryWithAttempts extends WebhookDelivery {
  attemptLog: DeliveryAttempt[];
}

/** Project webhooks: subscriptions, the delivery queue they feed, and its log. */
export class WebhookService implements EventSubscribers {
  constructor(
    private readonly store: WebhookStore,
    private readonly identity: IdentityService,
    private readonly audit: AuditLog,
    private readonly egress: EgressPolicy = EgressPolicy.strict(),
    private readonly now: () => number = Date.now,
  ) {}

  async create(principal: Principal, projectName: string, input: NewWebhook): Promise<Webhook> {
    const project = await this.identity.getProject(principal, projectName, "write");
    let url: URL;
    try {
      url = new URL(input.url);
    } catch {
      throw new InputError(`webhook url '${input.url}' is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new InputError("webhook url must be http:// or https://");
    }
    this.refuseNonPublicLiteral(url);
    if (input.events.length === 0) throw new InputError("webhook events: give at least one, e.g. model.*");
    for (const e of input.events) {
      if (!EVENT_PATTERN.test(e))
        throw new InputError(`webhook event '${e}' is not an event type or pattern`);
    }
    if (input.secret.length < 16) throw new InputError("webhook secret must be at least 16 characters");
    const webhook: Webhook = {
      id: randomUUID(),
      projectId: project.id,
      url: url.toString(),
      events: [...new Set(input.events)],
      createdAt: this.now(),
      createdBy: principal.userName,
    };
    await this.store.insertWebhook(webhook, input.secret);
    await this.audit.record({
      actor: actorOf(principal),
      action: "webhook.created",
      subjectType: "webhook",
      subjectId: webhook.id,
      projectId: project.id,
      details: { url: webhook.url, events: webhook.events },
    });
    return webhook;
  }

  async list(principal: Principal, projectName: string): Promise<Webhook[]> {
    const project = await this.identity.getProject(principal, projectName, "read");
    return this.store.listWebhooks(project.id);
  }

  async delete(principal: Principal, projectName: string, id: string): Promise<void> {
    const webhook = await this.get(principal, projectName, id, "write");
    await this.store.deleteWebhook(webhook.id);
    await this.audit.record({
      actor: actorOf(principal),
      action: "webhook.deleted",
      subjectType: "webhook",
      subjectId: webhook.id,
      projectId: webhook.projectId,
    });
  }

  async deliveries(
    principal: Principal,
    projectName: string,
    id: string,
    limit = 50,
  ): Promise<DeliveryWithAttempts[]> {
    const webhook = await this.get(principal, projectName, id, "read");
    const deliveries = await this.store.listDeliveries(webhook.id, Math.min(Math.max(limit, 1), 500));
    const attempts = await this.store.listAttempts(deliveries.map((d) => d.id));
    return deliveries.map((d) => ({
      ...d,
      attemptLog: attempts.filter((a) => a.deliveryId === d.id).sort((a, b) => a.attempt - b.attempt),
    }));
  }

  /** Queues one delivery per matching webhook of the event's project; returns how many. */
  async enqueue(envelope: EventEnvelope): Promise<number> {
    const hooks = (await this.store.listWebhooks(envelope.projectId)).filter((w) =>
      eventMatches(w.events, envelope.type),
    );
    if (hooks.length === 0) return 0;
    const payload = JSON.stringify(envelope);
    await this.store.insertDeliveries(
      hooks.map((w) => ({
        id: randomUUID(),
        webhookId: w.id,
        eventId: envelope.id,
        eventType: envelope.type,
        createdAt: this.now(),
        payload,
      })),
    );
    return hooks.length;
  }

  /**
   * Early, clear feedback for a URL that names a loopback/private address outright (no DNS lookup here:
   * that would answer which internal names exist). Deliveries check every resolved address anyway.
   */
  private refuseNonPublicLiteral(url: URL): void {
    const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    const address = host === "localhost" || host.endsWith(".localhost") ? "127.0.0.1" : host;
    if (!isIP(address)) return;
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    if (this.egress.refusal({ hostname: host, port, address }))
      throw new InputError(
        `webhook url host ${url.host} is a loopback, private or link-local address; an operator can allow it with MLOPS_OUTBOUND_ALLOW`,
      );
  }

  private async get(
    principal: Principal,
    projectName: string,
    id: string,
    permission: "read" | "write",
  ): Promise<Webhook> {
    const project = await this.identity.getProject(principal, projectName, permission);
    const webhook = await this.store.findWebhook(id);
    if (!webhook || webhook.projectId !== project.id) {
      throw new NotFoundError(`webhook ${id} not found in project ${project.name}`);
    }
    return webhook;
  }
}
