import { type Kysely, sql } from "kysely";
import type { VersionedMigration } from "./migration.js";

/**
 * Measured validation (docs/architecture/registry.md): records say who produced their metrics, and gates
 * which records count. Every record that exists was typed in, so it becomes `reported`; every gate that
 * exists keeps its behaviour (`require: "any"`): tightening it is the owner's decision (`mlops model gate`).
 */
export const validationProvenanceMigration: VersionedMigration = {
  name: "0152_validation_provenance",
  async up(db) {
    await db.schema
      .alterTable("model_validations")
      .addColumn("provenance", "text", (c) => c.notNull().defaultTo("reported"))
      .execute();
    await db.schema.alterTable("model_validations").addColumn("evaluation", "text").execute();
    await rewriteGates(db, (gate) => ({ ...gate, require: "any" }));
  },
  async down(db) {
    await rewriteGates(db, ({ require: _require, ...gate }) => gate);
    await db.schema.alterTable("model_validations").dropColumn("evaluation").execute();
    await db.schema.alterTable("model_validations").dropColumn("provenance").execute();
  },
};

type GateJson = Record<string, unknown>;

async function rewriteGates(db: Kysely<unknown>, change: (gate: GateJson) => GateJson): Promise<void> {
  const rows = await sql<{ id: string; gate: string }>`
    select id, gate from registered_models where gate is not null`.execute(db);
  for (const row of rows.rows) {
    const gate = JSON.stringify(change(JSON.parse(row.gate) as GateJson));
    await sql`update registered_models set gate = ${gate} where id = ${row.id}`.execute(db);
  }
}
