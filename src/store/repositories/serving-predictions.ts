import type { Selectable } from "kysely";
import type {
  PredictionOutcome,
  PredictionRecord,
  PredictionStore,
  VersionWindowStats,
} from "../../serving/prediction-log/prediction-record.js";
import type { Store } from "../open-store.js";
import type { PredictionsTable } from "../tables/serving.js";

/** Rows per INSERT: keeps PostgreSQL's 65,535 bind parameters (16 per row) and SQLite's limits far away. */
const INSERT_CHUNK = 500;

export class SqlPredictionStore implements PredictionStore {
  constructor(private readonly store: Store) {}

  async insertMany(records: PredictionRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < records.length; i += INSERT_CHUNK) {
        await trx
          .insertInto("predictions")
          .values(records.slice(i, i + INSERT_CHUNK).map(toRow))
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
      }
    });
  }

  async windowStats(query: {
    deploymentId: string;
    modelVersionId: string;
    since: number;
    until?: number;
  }): Promise<VersionWindowStats> {
    const db = this.store.db;
    const base = () => {
      let q = db
        .selectFrom("predictions")
        .where("deployment_id", "=", query.deploymentId)
        .where("model_version_id", "=", query.modelVersionId)
        .where("created_at", ">=", query.since);
      if (query.until !== undefined) q = q.where("created_at", "<", query.until);
      return q;
    };
    const counts = await base()
      .select((eb) => [
        eb.fn.countAll<number>().as("n"),
        eb.fn.sum<number>(eb.case().when("outcome", "=", "error").then(1).else(0).end()).as("errors"),
        eb.fn.sum<number>(eb.case().when("outcome", "=", "success").then(1).else(0).end()).as("successes"),
        eb.fn.avg<number>("score").as("mean_score"),
      ])
      .where("outcome", "in", ["success", "error"])
      .executeTakeFirstOrThrow();
    const requests = Number(counts.n ?? 0);
    const errors = Number(counts.errors ?? 0);
    const successes = Number(counts.successes ?? 0);
    // Percentiles by offset into the sorted latencies: the same SQL on both databases.
    const percentile = async (p: number): Promise<number | null> => {
      if (successes === 0) return null;
      const offset = Math.min(successes - 1, Math.max(0, Math.ceil(p * successes) - 1));
      const row = await base()
        .select("latency_ms")
        .where("outcome", "=", "success")
        .orderBy("latency_ms")
        .limit(1)
        .offset(offset)
        .executeTakeFirst();
      return row ? Number(row.latency_ms) : null;
    };
    return {
      requests,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      p50Ms: await percentile(0.5),
      p95Ms: await percentile(0.95),
      meanScore:
        counts.mean_score === null || counts.mean_score === undefined ? null : Number(counts.mean_score),
    };
  }

  async find(id: string): Promise<PredictionRecord | undefined> {
    const row = await this.store.db
      .selectFrom("predictions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async list(query: { deploymentId: string; limit: number; before?: number }): Promise<PredictionRecord[]> {
    let q = this.store.db
      .selectFrom("predictions")
      .selectAll()
      .where("deployment_id", "=", query.deploymentId)
      .orderBy("created_at", "desc")
      .limit(query.limit);
    if (query.before !== undefined) q = q.where("created_at", "<", query.before);
    return (await q.execute()).map(fromRow);
  }
}

function toRow(r: PredictionRecord): PredictionsTable {
  return {
    id: r.id,
    deployment_id: r.deploymentId,
    deployment: r.deployment,
    model_version_id: r.modelVersionId,
    model_version: r.modelVersion,
    canary: r.canary ? 1 : 0,
    created_at: r.createdAt,
    input_sha256: r.inputSha256,
    outcome: r.outcome,
    top_label: r.topLabel,
    score: r.score,
    output: r.output ? JSON.stringify(r.output) : null,
    latency_ms: r.latencyMs,
    routing_key: r.routingKey,
    endpoint: r.endpoint,
    error: r.error,
  };
}

function fromRow(r: Selectable<PredictionsTable>): PredictionRecord {
  return {
    id: r.id,
    deploymentId: r.deployment_id,
    deployment: r.deployment,
    modelVersionId: r.model_version_id,
    modelVersion: r.model_version,
    canary: Number(r.canary) === 1,
    createdAt: Number(r.created_at),
    inputSha256: r.input_sha256,
    outcome: r.outcome as PredictionOutcome,
    topLabel: r.top_label,
    score: r.score === null ? null : Number(r.score),
    output: r.output ? (JSON.parse(r.output) as Record<string, unknown>) : null,
    latencyMs: Number(r.latency_ms),
    routingKey: r.routing_key,
    endpoint: r.endpoint,
    error: r.error,
  };
}
