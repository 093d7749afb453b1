import type { BatchInput, BatchPrediction, BatchResult, BatchState } from "../../serving/batch/batch.js";
import type { BatchStatePatch, BatchStore, CompletedChunk } from "../../serving/batch/batch-store.js";
import type { Store } from "../open-store.js";
import { batchToRow, inputToRow, rowToBatch, rowToChunk, rowToInput, rowToResult } from "./batch-rows.js";

/** Rows per INSERT: far below PostgreSQL's 65,535 bind parameters (9 per result row) and SQLite's limit. */
const INSERT_ROWS = 500;

/** Thrown inside a chunk's transaction to roll it back when the chunk is already checkpointed. */
class AlreadyCheckpointed extends Error {}

export class SqlBatchStore implements BatchStore {
  constructor(private readonly store: Store) {}

  private get db() {
    return this.store.db;
  }

  async insertBatch(batch: BatchPrediction, inputs: BatchInput[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("batch_predictions").values(batchToRow(batch)).execute();
      for (let i = 0; i < inputs.length; i += INSERT_ROWS) {
        await trx
          .insertInto("batch_prediction_inputs")
          .values(inputs.slice(i, i + INSERT_ROWS).map((input) => inputToRow(batch.id, input)))
          .execute();
      }
    });
  }

  async getBatch(id: string): Promise<BatchPrediction | undefined> {
    const row = await this.db
      .selectFrom("batch_predictions")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row ? rowToBatch(row) : undefined;
  }

  async listBatches(projectIds: string[], limit: number): Promise<BatchPrediction[]> {
    if (projectIds.length === 0) return [];
    const rows = await this.db
      .selectFrom("batch_predictions")
      .selectAll()
      .where("project_id", "in", projectIds)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(rowToBatch);
  }

  async updateState(id: string, from: BatchState[], patch: BatchStatePatch): Promise<boolean> {
    const result = await this.db
      .updateTable("batch_predictions")
      .set({
        state: patch.state,
        state_reason: patch.stateReason,
        updated_at: patch.updatedAt,
        ...(patch.jobId !== undefined ? { job_id: patch.jobId } : {}),
        ...(patch.jobsSubmitted !== undefined ? { jobs_submitted: patch.jobsSubmitted } : {}),
        ...(patch.startedAt !== undefined ? { started_at: patch.startedAt } : {}),
        ...(patch.finishedAt !== undefined ? { finished_at: patch.finishedAt } : {}),
        ...(patch.rateSince !== undefined ? { rate_since: patch.rateSince } : {}),
        ...(patch.rateImagesSince !== undefined ? { rate_images_since: patch.rateImagesSince } : {}),
      })
      .where("id", "=", id)
      .where("state", "in", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async inputs(batchId: string, start: number, end: number): Promise<BatchInput[]> {
    const rows = await this.db
      .selectFrom("batch_prediction_inputs")
      .selectAll()
      .where("batch_id", "=", batchId)
      .where("position", ">=", start)
      .where("position", "<", end)
      .orderBy("position")
      .execute();
    return rows.map(rowToInput);
  }

  async doneChunks(batchId: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom("batch_prediction_chunks")
      .select("chunk_index")
      .where("batch_id", "=", batchId)
      .orderBy("chunk_index")
      .execute();
    return rows.map((r) => Number(r.chunk_index));
  }

  async chunks(batchId: string) {
    const rows = await this.db
      .selectFrom("batch_prediction_chunks")
      .selectAll()
      .where("batch_id", "=", batchId)
      .orderBy("chunk_index")
      .execute();
    return rows.map(rowToChunk);
  }

  async completeChunk(
    batchId: string,
    done: CompletedChunk,
  ): Promise<{ stored: boolean; batch: BatchPrediction }> {
    const { chunk, results } = done;
    try {
      return await this.db.transaction().execute(async (trx) => {
        // The checkpoint row first: a second writer of the same chunk fails here (unique key) or, on
        // PostgreSQL, waits for the first writer's commit and then fails; either way nothing of it is kept.
        const inserted = await trx
          .insertInto("batch_prediction_chunks")
          .values({
            batch_id: batchId,
            chunk_index: chunk.chunkIndex,
            items: chunk.items,
            job_id: chunk.jobId,
            attempt: chunk.attempt,
            duration_ms: chunk.durationMs,
            completed_at: chunk.completedAt,
          })
          .onConflict((oc) => oc.columns(["batch_id", "chunk_index"]).doNothing())
          .returning("chunk_index")
          .executeTakeFirst();
        if (!inserted) throw new AlreadyCheckpointed();
        for (let i = 0; i < results.length; i += INSERT_ROWS) {
          await trx
            .insertInto("batch_prediction_results")
            .values(
              results.slice(i, i + INSERT_ROWS).map((r) => ({
                batch_id: batchId,
                position: r.position,
                chunk_index: chunk.chunkIndex,
                item_key: r.key,
                item_id: r.itemId,
                prediction: JSON.stringify(r.prediction),
                top_label: r.topLabel,
                score: r.score,
                created_at: chunk.completedAt,
              })),
            )
            .execute();
        }
        // Counters under the row lock: the writer of the last chunk sees chunks_done = chunk_count.
        const counted = await trx
          .updateTable("batch_predictions")
          .set((eb) => ({
            chunks_done: eb("chunks_done", "+", 1),
            images_done: eb("images_done", "+", results.length),
            last_chunk_at: chunk.completedAt,
            updated_at: chunk.completedAt,
          }))
          .where("id", "=", batchId)
          .returning(["chunks_done", "chunk_count", "rate_since"])
          .executeTakeFirstOrThrow();
        if (counted.rate_since === null) {
          // The attempt's first chunk starts its images/s clock (its start-up is not throughput).
          await trx
            .updateTable("batch_predictions")
            .set((eb) => ({ rate_since: chunk.completedAt, rate_images_since: eb.ref("images_done") }))
            .where("id", "=", batchId)
            .execute();
        }
        if (Number(counted.chunks_done) >= Number(counted.chunk_count)) {
          await trx
            .updateTable("batch_predictions")
            .set({
              state: "succeeded",
              state_reason: "every chunk is stored",
              finished_at: chunk.completedAt,
            })
            .where("id", "=", batchId)
            .where("state", "in", ["queued", "running"])
            .execute();
        }
        const row = await trx
          .selectFrom("batch_predictions")
          .selectAll()
          .where("id", "=", batchId)
          .executeTakeFirstOrThrow();
        return { stored: true, batch: rowToBatch(row) };
      });
    } catch (err) {
      if (err instanceof AlreadyCheckpointed || this.store.dialect.isUniqueViolation(err)) {
        const batch = await this.getBatch(batchId);
        if (!batch) throw err;
        return { stored: false, batch };
      }
      throw err;
    }
  }

  async results(batchId: string, afterPosition: number, limit: number): Promise<BatchResult[]> {
    const rows = await this.db
      .selectFrom("batch_prediction_results")
      .selectAll()
      .where("batch_id", "=", batchId)
      .where("position", ">", afterPosition)
      .orderBy("position")
      .limit(limit)
      .execute();
    return rows.map(rowToResult);
  }

  async countResults(batchId: string): Promise<{ rows: number; distinctPositions: number }> {
    const row = await this.db
      .selectFrom("batch_prediction_results")
      .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.count<number>("position").distinct().as("d")])
      .where("batch_id", "=", batchId)
      .executeTakeFirstOrThrow();
    return { rows: Number(row.n), distinctPositions: Number(row.d) };
  }
}
