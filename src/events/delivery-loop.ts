import { PeriodicLeaderLoop } from "../leases/periodic-leader-loop.js";
import { EgressPolicy } from "../egress/egress-policy.js";
import { OutboundError, sendOutbound } from "../egress/outbound-client.js";
import type { ClaimedDelivery, WebhookStore } from "./webhook-store.js";
import { SIGNATURE_HEADER, signBody } from "./webhook-service.js";

export interface DeliveryLoopOptions {
  store: WebhookStore;
  /** Work happens only while this is true (the leader lease). */
  isLeader: () => boolean;
  pollMs?: number;
  /** First retry after this; each further retry doubles it. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** After this many failed attempts the delivery is marked failed. */
  maxAttempts?: number;
  timeoutMs?: number;
  batchSize?: number;
  /** Which addresses deliveries may connect to (default: public ones only); see docs/security.md. */
  egress?: EgressPolicy;
  now?: () => number;
  log?: (message: string, details: Record<string, unknown>) => void;
}

/** Delay before attempt `attempt + 1` after `attempt` failed: base * 2^(attempt-1), capped. */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.min(baseDelayMs * 2 ** Math.max(attempt - 1, 0), maxDelayMs);
}

/**
 * Sends queued webhook deliveries: signed POST, retries with exponential backoff, every attempt logged.
 * The queue is rows in the database, so a restarted (or newly elected) process continues where the last
 * one stopped. Runs only in the leader.
 */
export class WebhookDeliveryLoop {
  readonly name = "webhook-delivery";
  private readonly loop: PeriodicLeaderLoop;
  private readonly o: Required<Omit<DeliveryLoopOptions, "log">> & Pick<DeliveryLoopOptions, "log">;

  constructor(options: DeliveryLoopOptions) {
    this.o = {
      pollMs: 500,
      baseDelayMs: 1000,
      maxDelayMs: 15 * 60_000,
      maxAttempts: 8,
      timeoutMs: 10_000,
      batchSize: 20,
      egress: EgressPolicy.strict(),
      now: Date.now,
      ...options,
    };
    this.loop = new PeriodicLeaderLoop({
      name: this.name,
      intervalMs: this.o.pollMs,
      initialDelayMs: this.o.pollMs,
      isLeader: this.o.isLeader,
      pass: () => this.deliverDue(),
      log: (_message, details) => this.o.log?.("webhook delivery pass failed", details),
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass: claims due deliveries and attempts each once. Returns how many were attempted. */
  async deliverDue(): Promise<number> {
    const claimed = await this.o.store.claimDue(this.o.now(), this.o.batchSize, this.o.timeoutMs * 2);
    await Promise.all(claimed.map((d) => this.attempt(d)));
    return claimed.length;
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const attempt = delivery.attempts + 1;
    const started = this.o.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    try {
      const response = await sendOutbound(new URL(delivery.url), {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "mlops-platform-webhooks",
          [SIGNATURE_HEADER]: signBody(delivery.secret, delivery.payload),
          "x-mlops-event": delivery.eventType,
          "x-mlops-delivery": delivery.id,
        },
        body: delivery.payload,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        policy: this.o.egress,
      });
      // Redirects are not followed (a 3xx is a failed attempt): the signed payload goes only where configured.
      statusCode = response.statusCode ?? null;
      response.destroy();
      if (statusCode === null || statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
    } catch (err) {
      // One text for every network failure: the attempt log must not tell open ports from closed ones.
      error = err instanceof OutboundError ? err.message : "delivery failed";
      this.o.log?.("webhook delivery attempt failed", {
        delivery: delivery.id,
        reason: err instanceof OutboundError ? err.reason : (err as Error).message,
      });
    }
    const at = this.o.now();
    const succeeded = error === null;
    const exhausted = !succeeded && attempt >= this.o.maxAttempts;
    await this.o.store.recordAttempt(delivery, {
      at,
      statusCode,
      error,
      durationMs: at - started,
      status: succeeded ? "succeeded" : exhausted ? "failed" : "pending",
      nextAttemptAt:
        succeeded || exhausted ? null : at + backoffDelay(attempt, this.o.baseDelayMs, this.o.maxDelayMs),
    });
  }
}
