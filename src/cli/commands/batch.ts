import { createWriteStream } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { type ApiClient, enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, printKeyValues, printTable } from "../output.js";
import { commandGroup } from "./jobs.js";

/**
 * `mlops batch-predict` (start a batch prediction, optionally wait with a progress bar and write the
 * exports) and `mlops batch list|status|cancel|resume|export`; `mlops batch worker` is what the
 * scheduler runs for a batch (with the job's workload token).
 */
interface BatchView {
  id: string;
  modelVersionName: string;
  task: string;
  source: { kind: string; datasetName?: string; inputDigest?: string };
  state: string;
  stateReason: string;
  jobId: string | null;
  total: number;
  chunkCount: number;
  progress: { done: number; total: number; chunksDone: number; imagesPerSecond: number | null };
  createdAt: number;
  finishedAt: number | null;
}

interface PredictOptions {
  model: string;
  version?: string;
  dataset?: string;
  input?: string;
  out?: string;
  cocoOut?: string;
  chunkSize?: number;
  workers?: number;
  maxRetries?: number;
  project?: string;
  imageRoot?: string;
  wait?: boolean;
  json?: boolean;
}

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 500;

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new CliError(`${name} must be an integer, got '${value}'`, 2);
  return parsed;
};

export function registerBatchCommands(program: Command, ctx: CliContext): void {
  program
    .command("batch-predict")
    .description(
      "run a model over every image of a dataset (pre-annotations) or a directory, as a scheduler job",
    )
    .requiredOption("--model <model>", "registered model")
    .option("--version <v>", "model version (default: the production version)")
    .option("--dataset <dataset>", "predict every item of this dataset")
    .option("--input <dir>", "predict the images under this directory (uploaded as an archive)")
    .option("--out <file>", "write Label Studio tasks with predictions here when done (implies --wait)")
    .option(
      "--coco-out <file>",
      "write COCO-style JSON here when done (default with --out FILE: FILE without .json, plus .coco.json)",
    )
    .option("--chunk-size <n>", "images per chunk (checkpoint unit), max 256", integer("--chunk-size"))
    .option("--workers <n>", "inference threads (CPU cores asked of the scheduler)", integer("--workers"))
    .option("--max-retries <n>", "job retries after a worker crash (each resumes)", integer("--max-retries"))
    .option("--image-root <prefix>", "prefix for input images in the Label Studio export")
    .option("--project <project>", "project", "default")
    .option("--wait", "show progress until the batch ends; exit 0 only if it succeeds")
    .action(async (_o, cmd: Command) => predict(ctx, optionsOf<PredictOptions>(cmd)));

  const batch = commandGroup(program, "batch", "batch predictions: list, status, cancel, resume, export");
  batch
    .command("list")
    .description("batch predictions in your projects, newest first")
    .option("--project <project>", "only this project")
    .action(async (_o, cmd: Command) => {
      const o = optionsOf<{ project?: string }>(cmd);
      const { batches } = await ctx.client().get<{ batches: BatchView[] }>("/api/v1/batch-predictions", {
        project: o.project,
      });
      emit(o, batches, () =>
        printTable(
          batches.map((b) => ({
            id: b.id,
            model: b.modelVersionName,
            source: b.source.datasetName ?? "input",
            state: b.state,
            done: `${b.progress.done}/${b.total}`,
            "img/s": rate(b),
            created: b.createdAt,
          })),
        ),
      );
    });
  batch
    .command("status <id>")
    .description("a batch prediction's state and progress (--wait: progress bar until it ends)")
    .option("--wait", "follow until it ends")
    .action(async (id: string, _o, cmd: Command) => {
      const o = optionsOf<{ wait?: boolean }>(cmd);
      const client = ctx.client();
      const shown = o.wait ? await follow(client, id, o) : await getBatch(client, id);
      emit(o, shown, () => printBatch(shown));
      if (o.wait && shown.state !== "succeeded")
        throw new CliError(`batch ${shown.state}: ${shown.stateReason}`, 1);
    });
  batch
    .command("cancel <id>")
    .description("stop a batch prediction (stored chunks stay; resume continues)")
    .action(async (id: string, _o, cmd: Command) => {
      const shown = await ctx.client().post<BatchView>(`/api/v1/batch-predictions/${enc(id)}/cancel`);
      emit(optionsOf(cmd), shown, () => printBatch(shown));
    });
  batch
    .command("resume <id>")
    .description("continue a failed or cancelled batch prediction from its chunk checkpoints")
    .option("--wait", "follow until it ends")
    .action(async (id: string, _o, cmd: Command) => {
      const o = optionsOf<{ wait?: boolean }>(cmd);
      const client = ctx.client();
      let shown = await client.post<BatchView>(`/api/v1/batch-predictions/${enc(id)}/resume`, {});
      if (o.wait) shown = await follow(client, id, o);
      emit(o, shown, () => printBatch(shown));
      if (o.wait && shown.state !== "succeeded")
        throw new CliError(`batch ${shown.state}: ${shown.stateReason}`, 1);
    });
  batch
    .command("export <id>")
    .description("write a batch's predictions: Label Studio tasks (default) or COCO-style JSON")
    .requiredOption("--out <file>", "output file")
    .option("--format <format>", "label-studio | coco", "label-studio")
    .option("--image-root <prefix>", "prefix for input images (Label Studio)")
    .action(async (id: string, _o, cmd: Command) => {
      const o = optionsOf<{ out: string; format: string; imageRoot?: string }>(cmd);
      await exportTo(ctx.client(), id, o.format, path.resolve(ctx.cwd, o.out), o.imageRoot);
      if (!o.json) process.stdout.write(`wrote ${o.out}\n`);
    });
  batch
    .command("worker <id>", { hidden: true })
    .description("run a batch's worker (what the scheduler runs; needs MLOPS_API_URL and MLOPS_TOKEN)")
    .action(async (id: string) => {
      const apiUrl = ctx.env.MLOPS_API_URL ?? ctx.env.MLOPS_URL;
      const token = ctx.env.MLOPS_TOKEN;
      if (!apiUrl || !token)
        throw new CliError("the worker needs MLOPS_API_URL and MLOPS_TOKEN (a job's environment)", 2);
      // Loaded on use: the worker pulls in onnxruntime and sharp, which `mlops --help` must not pay for.
      const { runBatchWorker } = await import("../../serving/batch/worker/batch-worker.js");
      const summary = await runBatchWorker({
        apiUrl,
        token,
        batchId: id,
        attempt: Number(ctx.env.MLOPS_ATTEMPT ?? 0) || 0,
        inputDir: ctx.cwd,
        scratchDir: path.join(os.tmpdir(), `mlops-batch-${id}`),
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(
        `done: ${summary.images} images in ${summary.chunks} chunks, ${summary.seconds.toFixed(1)} s ` +
          `(${summary.imagesPerSecond.toFixed(0)} images/s)\n`,
      );
    });
}

async function predict(ctx: CliContext, o: PredictOptions): Promise<void> {
  if ((o.dataset === undefined) === (o.input === undefined))
    throw new CliError("give exactly one of --dataset or --input", 2);
  const client = ctx.client();
  const body: Record<string, unknown> = {
    project: o.project,
    model: o.model,
    version: o.version,
    chunkSize: o.chunkSize,
    workers: o.workers,
    maxRetries: o.maxRetries,
  };
  if (o.dataset) body.dataset = o.dataset;
  else {
    const dir = path.resolve(ctx.cwd, o.input as string);
    const [{ packDirectory }, { isImagePath }] = await Promise.all([
      import("../../artifacts/code-archive.js"),
      import("../../serving/batch/batch-inputs.js"),
    ]);
    const packed = await packDirectory(dir);
    const files = packed.files.filter(isImagePath);
    if (files.length === 0) throw new CliError(`no images (png, jpg, webp, ...) under ${dir}`, 2);
    const response = await client.raw("POST", `/api/v1/jobs/code?project=${enc(o.project ?? "default")}`, {
      headers: { "content-type": "application/octet-stream" },
      body: Readable.toWeb(packed.stream) as unknown as ReadableStream,
      duplex: "half",
    } as RequestInit);
    body.inputDigest = ((await response.json()) as { sha256: string }).sha256;
    body.files = files;
  }
  const created = await client.post<BatchView>("/api/v1/batch-predictions", body);
  if (!o.wait && !o.out) {
    emit(o, created, () => printBatch(created));
    return;
  }
  if (!o.json) process.stderr.write(`batch ${created.id}: ${created.total} images, job ${created.jobId}\n`);
  const shown = await follow(client, created.id, o);
  if (shown.state !== "succeeded")
    throw new CliError(`batch ${created.id} ${shown.state}: ${shown.stateReason}`, 1);
  if (o.out) {
    const out = path.resolve(ctx.cwd, o.out);
    await exportTo(client, created.id, "label-studio", out, o.imageRoot);
    const coco = path.resolve(ctx.cwd, o.cocoOut ?? defaultCocoPath(out));
    await exportTo(client, created.id, "coco", coco);
    if (!o.json) process.stderr.write(`wrote ${out} and ${coco}\n`);
  } else if (o.cocoOut) await exportTo(client, created.id, "coco", path.resolve(ctx.cwd, o.cocoOut));
  emit(o, shown, () => printBatch(shown));
}

function getBatch(client: ApiClient, id: string): Promise<BatchView> {
  return client.get<BatchView>(`/api/v1/batch-predictions/${enc(id)}`);
}

/** Polls until the batch ends, with a progress bar on a terminal. */
async function follow(client: ApiClient, id: string, o: { json?: boolean }): Promise<BatchView> {
  let shown = await getBatch(client, id);
  const cliProgress = !o.json && process.stderr.isTTY ? (await import("cli-progress")).default : undefined;
  const bar = cliProgress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "predicting [{bar}] {value}/{total} images | {rate} img/s | {state}",
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(shown.total, shown.progress.done, { rate: rate(shown), state: shown.state });
  try {
    while (!FINISHED.has(shown.state)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      shown = await getBatch(client, id);
      bar?.update(shown.progress.done, { rate: rate(shown), state: shown.state });
    }
  } finally {
    bar?.stop();
  }
  return shown;
}

/** README: `--out FILE` writes FILE as given, and the COCO JSON to FILE without a trailing `.json`, plus `.coco.json`. */
export function defaultCocoPath(out: string): string {
  return `${out.replace(/\.json$/i, "")}.coco.json`;
}

async function exportTo(client: ApiClient, id: string, format: string, file: string, imageRoot?: string) {
  const query = new URLSearchParams({ format });
  if (imageRoot) query.set("imageRoot", imageRoot);
  const response = await client.raw("GET", `/api/v1/batch-predictions/${enc(id)}/export?${query}`);
  if (!response.body) throw new CliError("empty export", 1);
  await pipeline(
    Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
    createWriteStream(file),
  );
}

function rate(b: BatchView): string {
  return b.progress.imagesPerSecond === null ? "-" : b.progress.imagesPerSecond.toFixed(0);
}

function printBatch(b: BatchView): void {
  printKeyValues({
    id: b.id,
    model: b.modelVersionName,
    task: b.task,
    source: b.source.kind === "dataset" ? `dataset ${b.source.datasetName}` : `input ${b.source.inputDigest}`,
    state: b.state,
    reason: b.stateReason,
    job: b.jobId,
    progress: `${b.progress.done}/${b.total} images, ${b.progress.chunksDone}/${b.chunkCount} chunks`,
    "images/s": rate(b),
    created: b.createdAt,
    finished: b.finishedAt,
  });
}
