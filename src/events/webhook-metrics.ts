import { Gauge, type Registry } from "prom-client";
import type { DeliveryStatus } from "./webhook-store.js";

const STATUSES: readonly DeliveryStatus[] = ["pending", "succeeded", "failed"];

/**
 * `mlops_webhook_deliveries{status}` on /metrics, counted in the database at scrape time so every
 * control-plane replica reports the same numbers; `failed` means the retries are exhausted. The
 * MlopsWebhookDeliveriesFailing alert (infrastructure/monitoring/alerts/mlops-alerts.yaml) watches it.
 */
export function registerWebhookMetrics(
  registry: Registry,
  count: () => Promise<Partial<Record<DeliveryStatus, number>>>,
  onError: (err: unknown) => void = () => {},
): void {
  new Gauge({
    name: "mlops_webhook_deliveries",
    help: "Webhook deliveries per status (pending | succeeded | failed = retries exhausted)",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      try {
        const counts = await count();
        for (const status of STATUSES) this.set({ status }, counts[status] ?? 0);
      } catch (err) {
        // A failed query must not break the whole /metrics scrape.
        onError(err);
      }
    },
  });
}
