/** Output helpers: human tables by default, JSON with --json. */
export interface OutputOptions {
  json?: boolean;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: Array<Record<string, unknown>>, columns?: string[]): void {
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const cols = columns ?? Object.keys(rows[0]);
  const cells = rows.map((row) => cols.map((c) => formatCell(row[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(cols.map((c) => c.toUpperCase()))}\n`);
  for (const r of cells) process.stdout.write(`${line(r)}\n`);
}

export function printKeyValues(record: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  for (const [k, v] of Object.entries(record)) process.stdout.write(`${k.padEnd(width)}  ${formatCell(v)}\n`);
}

/** Prints `value` as JSON with --json, otherwise calls `human`. */
export function emit(options: OutputOptions, value: unknown, human: () => void): void {
  if (options.json) printJson(value);
  else human();
}

export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "number" && value > 1e12 && value < 1e13)
    return new Date(value).toISOString().replace(/\.\d+Z$/, "Z");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function formatTime(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString().replace(/\.\d+Z$/, "Z") : "-";
}
