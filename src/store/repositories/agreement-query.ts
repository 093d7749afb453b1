import type { Kysely } from "kysely";
import type { ServedAgreementQuery } from "../../data/data-store.js";
import type { AgreementCounts } from "../../data/model.js";
import type { Database } from "../schema.js";

/**
 * Label agreement on the predictions a deployment actually issued (docs/security.md, tenancy): a label
 * counts only when its prediction id is in the prediction log for this deployment and model version, the
 * label's `model:version` matches, and the label was written to a dataset of the deployment's project.
 * "One vote per prediction" (the latest answering revision) is also taken within that project only, so
 * another project cannot cast, replace or mask a vote. The label's model_version is matched first so the
 * agreement index (model_version, prediction_key, id) narrows the scan before the log lookups.
 */
export async function servedAgreementCounts(
  db: Kysely<Database>,
  q: ServedAgreementQuery,
): Promise<AgreementCounts> {
  let query = db
    .selectFrom("label_revisions as r")
    .innerJoin("datasets as ds", "ds.id", "r.dataset_id")
    .innerJoin("predictions as p", "p.id", "r.prediction_id")
    .select(["r.outcome", (eb) => eb.fn.countAll<number>().as("n")])
    .where("r.model_version", "=", q.modelVersion)
    .where("r.outcome", "is not", null)
    .where("ds.project_id", "=", q.projectId)
    .where("p.deployment_id", "=", q.deploymentId)
    .where("p.model_version_id", "=", q.modelVersionId)
    .where("p.model_version", "=", q.modelVersion)
    .where("r.id", "=", (eb) =>
      eb
        .selectFrom("label_revisions as r2")
        .innerJoin("datasets as d2", "d2.id", "r2.dataset_id")
        .select((e) => e.fn.max("r2.id").as("latest"))
        .whereRef("r2.model_version", "=", "r.model_version")
        .whereRef("r2.prediction_key", "=", "r.prediction_key")
        .where("r2.outcome", "is not", null)
        .where("d2.project_id", "=", q.projectId),
    );
  if (q.since !== undefined) query = query.where("r.created_at", ">=", q.since);
  const rows = await query.groupBy("r.outcome").execute();
  const count = (outcome: string) => Number(rows.find((r) => r.outcome === outcome)?.n ?? 0);
  const accepted = count("accepted");
  const corrected = count("corrected");
  return { accepted, corrected, total: accepted + corrected };
}
