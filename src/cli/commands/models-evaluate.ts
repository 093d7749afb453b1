import { type ApiClient, ApiError, enc } from "../client.js";
import { CliError } from "../context.js";

/** A validation record as the CLI prints it. */
export type Validation = {
  id: string;
  version: number;
  snapshot: string;
  metrics: Record<string, number>;
  passed: boolean;
  provenance?: "platform" | "reported";
  evaluation?: {
    split: string;
    itemCount: number;
    itemSetSha256: string;
    evaluator: string;
    trainingData: string;
  } | null;
  decision: { reasons: string[]; notes: string[] };
};

export type EvaluationOutcome = { record: Validation; production?: Validation };

type Line =
  | { progress: { done: number; total: number; version: number } }
  | { result: EvaluationOutcome }
  | { error: { code: string; message: string } };

/** Below this many items the evaluation is quick and no progress is printed. */
const PROGRESS_FROM_ITEMS = 200;

/**
 * `mlops model evaluate`: asks the server to measure the version, reading its NDJSON stream so that long
 * sets show progress on stderr (stdout stays the result).
 */
export async function evaluateVersion(
  client: ApiClient,
  name: string,
  version: string,
  opts: { project: string; snapshot: string; split?: string },
  progress: (text: string) => void,
): Promise<EvaluationOutcome> {
  const response = await client.raw(
    "POST",
    `/api/v1/models/${enc(name)}/versions/${enc(version)}/evaluate?project=${enc(opts.project)}`,
    {
      headers: { "content-type": "application/json", accept: "application/x-ndjson" },
      body: JSON.stringify({ snapshot: opts.snapshot, split: opts.split }),
    },
  );
  if (!response.body) throw new CliError("the server sent no evaluation result");
  const decoder = new TextDecoder();
  let buffered = "";
  let outcome: EvaluationOutcome | undefined;
  let lastShown = -1;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as Line;
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
      if ("error" in line) throw new ApiError(422, line.error.code, line.error.message);
      if ("result" in line) outcome = line.result;
      else if (line.progress.total >= PROGRESS_FROM_ITEMS) {
        const { done, total, version: v } = line.progress;
        const percent = Math.floor((100 * done) / total);
        if (percent >= lastShown + 10 || done === total) {
          lastShown = percent;
          progress(`evaluating version ${v}: ${done}/${total} items (${percent}%)`);
        }
      }
    }
  }
  if (!outcome) throw new CliError("the evaluation ended without a result (see the server log)");
  return outcome;
}

/** Prints a record's decision; the caller exits 5 when it failed. */
export function describeRecord(record: Validation, write: (text: string) => void): void {
  const what = record.provenance === "reported" ? "reported" : "measured by the platform";
  write(`validation ${record.id} (v${record.version}, ${what}): ${record.passed ? "PASSED" : "FAILED"}\n`);
  const metrics = Object.entries(record.metrics)
    .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(" ");
  write(`  metrics: ${metrics}\n`);
  if (record.evaluation) {
    const e = record.evaluation;
    write(
      `  on snapshot ${record.snapshot.slice(0, 12)} ${e.split}: ${e.itemCount} items (set sha256 ${e.itemSetSha256.slice(0, 12)}), ${e.evaluator}\n`,
    );
    write(`  training data: ${e.trainingData}\n`);
  }
  for (const r of record.decision.reasons) write(`  - ${r}\n`);
  for (const n of record.decision.notes) write(`  * ${n}\n`);
}

export function failedExit(record: Validation): CliError {
  return new CliError(
    `validation FAILED: ${record.decision.reasons.join("; ") || "the gate did not pass"}`,
    5,
  );
}
