import type { Principal } from "../auth/principal.js";
import type { DataStore, ServedAgreementQuery } from "./data-store.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";
import type { AgreementCounts, AgreementRow } from "./model.js";

/**
 * Label agreement: of the served predictions that labelers answered, how many they accepted unchanged
 * and how many they corrected — per model version and deployment. One vote per prediction (its latest
 * answering revision). The canary analysis calls `agreementFor`.
 */
export class AgreementService {
  constructor(
    private readonly store: DataStore,
    private readonly access: DatasetAccess,
  ) {}

  /**
   * Votes on the predictions one deployment issued, from its own project's datasets (docs/security.md,
   * tenancy). What canary analysis and deployment status use: labels claiming a prediction the deployment
   * never issued, or written in another project, do not count.
   */
  async servedAgreement(query: ServedAgreementQuery): Promise<AgreementCounts> {
    return this.store.servedAgreement(query);
  }

  /**
   * Counts for one model version as labels reported it, optionally since a time and for one deployment
   * name. Unverified (any project's labels may claim any `model:version`): for reports, never for decisions.
   */
  async agreementFor(modelVersionKey: string, since?: number, deployment?: string): Promise<AgreementCounts> {
    const rows = await this.store.agreement({ modelVersion: modelVersionKey, since, deployment });
    const accepted = rows.reduce((n, r) => n + r.accepted, 0);
    const corrected = rows.reduce((n, r) => n + r.corrected, 0);
    return { accepted, corrected, total: accepted + corrected };
  }

  /** Every model version and deployment (metrics). */
  async all(): Promise<AgreementRow[]> {
    return this.store.agreement({});
  }

  async forDataset(
    principal: Principal,
    ref: DatasetRef,
    filter: { modelVersion?: string; deployment?: string; since?: number },
  ): Promise<AgreementRow[]> {
    const dataset = await this.access.resolve(principal, ref, "read");
    return this.store.agreement({ ...filter, datasetId: dataset.id });
  }
}
