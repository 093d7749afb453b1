import { ImportSessionService, type ImportSessionStore } from "./import-sessions.js";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { AuditLog } from "../audit/audit-log.js";
import type { IdentityService } from "../auth/identity-service.js";
import type { IdentityStore } from "../auth/identity-store.js";
import { AgreementService } from "./agreement.js";
import type { DataStore, ServedAgreementQuery } from "./data-store.js";
import { DatasetAccess } from "./dataset-access.js";
import { DatasetService } from "./datasets.js";
import { ItemService } from "./items.js";
import { LabelPushService } from "./label-push.js";
import { LabelStudioReceiver } from "./label-studio/receiver.js";
import type { AgreementCounts } from "./model.js";
import { SnapshotService } from "./snapshots.js";

/** The data domain as the rest of the platform sees it (`platform.data`). */
export interface DataServices {
  datasets: DatasetService;
  items: ItemService;
  labels: LabelPushService;
  labelStudio: LabelStudioReceiver;
  snapshots: SnapshotService;
  agreement: AgreementService;
  /** Bulk-import sessions, and whether a dataset's labels have settled (for retrain triggers). */
  imports: ImportSessionService;
  /** New, changed or deleted labels since a snapshot (null: all current labels). For retrain triggers. */
  countLabelChangesSince(datasetId: string, snapshotId: string | null): Promise<number>;
  /** Votes on one deployment's issued predictions, from its project's datasets. For canary analysis. */
  servedAgreement(query: ServedAgreementQuery): Promise<AgreementCounts>;
  /** Accepted/corrected predictions of a model version, as labels reported them (unverified; reports only). */
  agreementFor(modelVersionKey: string, since?: number, deployment?: string): Promise<AgreementCounts>;
}

export interface DataServiceDeps {
  store: DataStore;
  importStore: ImportSessionStore;
  identity: IdentityService;
  projects: Pick<IdentityStore, "findProject">;
  artifacts: ArtifactStore;
  audit: AuditLog;
  now?: () => number;
}

export function createDataServices(deps: DataServiceDeps): DataServices {
  const now = deps.now ?? Date.now;
  const access = new DatasetAccess(deps.store, deps.identity, deps.projects);
  const snapshots = new SnapshotService(deps.store, access, deps.artifacts, deps.audit, now);
  const agreement = new AgreementService(deps.store, access);
  return {
    datasets: new DatasetService(deps.store, access, deps.artifacts, deps.audit, now),
    items: new ItemService(deps.store, access, now),
    labels: new LabelPushService(deps.store, access, now),
    labelStudio: new LabelStudioReceiver(deps.store, access, now),
    snapshots,
    agreement,
    imports: new ImportSessionService(deps.importStore, access, now),
    countLabelChangesSince: (datasetId, snapshotId) =>
      snapshots.countLabelChangesSince(datasetId, snapshotId),
    servedAgreement: (query) => agreement.servedAgreement(query),
    agreementFor: (modelVersionKey, since, deployment) =>
      agreement.agreementFor(modelVersionKey, since, deployment),
  };
}
