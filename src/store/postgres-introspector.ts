import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  type Kysely,
  PostgresDialect,
  type PostgresDialectConfig,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from "kysely";

/**
 * Kysely's PostgreSQL introspector (used by the migrator to find its own tables) reads every schema of the
 * database and calls `pg_get_serial_sequence` per column, which fails with "schema ... does not exist" when
 * another process drops a schema meanwhile (tenants, test suites). This one reads only our schema, from
 * pg_catalog, with no per-row functions that resolve names.
 */
export class SchemaScopedPostgresDialect extends PostgresDialect {
  constructor(
    config: PostgresDialectConfig,
    private readonly schema: string,
  ) {
    super(config);
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db, this.schema);
  }
}

interface ColumnRow {
  table_name: string;
  relkind: string;
  column_name: string;
  data_type: string;
  not_null: boolean;
  has_default: boolean;
  default_expr: string | null;
}

class SchemaScopedIntrospector implements DatabaseIntrospector {
  constructor(
    private readonly db: Kysely<unknown>,
    private readonly schema: string,
  ) {}

  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ name: string }>`SELECT nspname AS name FROM pg_catalog.pg_namespace`.execute(
      this.db,
    );
    return rows.rows.map((r) => ({ name: r.name }));
  }

  async getTables(
    options: DatabaseMetadataOptions = { withInternalKyselyTables: false },
  ): Promise<TableMetadata[]> {
    const rows = await sql<ColumnRow>`
      SELECT c.relname AS table_name, c.relkind, a.attname AS column_name,
             pg_catalog.format_type(a.atttypid, NULL) AS data_type, a.attnotnull AS not_null,
             a.atthasdef AS has_default, pg_catalog.pg_get_expr(d.adbin, d.adrelid) AS default_expr
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
      WHERE n.nspname = ${this.schema} AND c.relkind IN ('r', 'v', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY c.relname, a.attnum`.execute(this.db);
    const tables = new Map<string, TableMetadata & { columns: TableMetadata["columns"] }>();
    for (const r of rows.rows) {
      if (!options.withInternalKyselyTables && r.table_name.startsWith("kysely_")) continue;
      let table = tables.get(r.table_name);
      if (!table) {
        table = { name: r.table_name, isView: r.relkind === "v", schema: this.schema, columns: [] };
        tables.set(r.table_name, table);
      }
      table.columns.push({
        name: r.column_name,
        dataType: r.data_type,
        isNullable: !r.not_null,
        isAutoIncrementing: r.default_expr?.startsWith("nextval(") ?? false,
        hasDefaultValue: r.has_default,
      });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}
