import { Gauge, type Registry } from "prom-client";
import type { AgreementRow } from "./model.js";

/**
 * Label agreement on /metrics, computed from the database at scrape time (so every control-plane replica
 * reports the same numbers): `mlops_label_agreement_ratio{deployment, model_version}` and
 * `mlops_label_agreement_predictions{deployment, model_version, outcome}`.
 */
export function registerAgreementMetrics(
  registry: Registry,
  load: () => Promise<AgreementRow[]>,
  onError: (err: unknown) => void = () => {},
): void {
  const safeLoad = async (): Promise<AgreementRow[]> => {
    try {
      return await load();
    } catch (err) {
      // A failed query must not break the whole /metrics scrape.
      onError(err);
      return [];
    }
  };
  new Gauge({
    name: "mlops_label_agreement_ratio",
    help: "Share of served predictions that labelers accepted unchanged, per deployment and model version",
    labelNames: ["deployment", "model_version"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await safeLoad()) {
        this.set({ deployment: row.deployment ?? "", model_version: row.modelVersion }, row.agreement);
      }
    },
  });
  new Gauge({
    name: "mlops_label_agreement_predictions",
    help: "Served predictions answered by labelers, by outcome (accepted|corrected)",
    labelNames: ["deployment", "model_version", "outcome"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await safeLoad()) {
        const labels = { deployment: row.deployment ?? "", model_version: row.modelVersion };
        this.set({ ...labels, outcome: "accepted" }, row.accepted);
        this.set({ ...labels, outcome: "corrected" }, row.corrected);
      }
    },
  });
}
