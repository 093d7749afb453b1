import { createWriteStream } from "node:fs";
import { mkdir, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { Command } from "commander";
import { type ApiClient, ApiError, enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";

interface Experiment {
  id: string;
  name: string;
  lifecycleStage: string;
  creationTime: number;
  tags: Record<string, string>;
}
interface NativeRun {
  id: string;
  name: string;
  experimentId: string;
  status: string;
  startTime: number;
  endTime: number | null;
  user: string;
  artifactUri: string;
  lifecycleStage: string;
  params: Record<string, string>;
  metrics: Record<string, { value: number | string; step: number; timestamp: number }>;
  tags: Record<string, string>;
  lineage: Record<string, string>;
}
interface Entry {
  path: string;
  isDir: boolean;
  size?: number;
}

/**
 * The `run` command group, shared with the job commands (`run submit|logs|cancel`): whoever registers
 * first creates it, the other adds to it.
 */
export function runCommandGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "run") ??
    program.command("run").description("runs: submit jobs (and tracking runs)")
  );
}

async function experimentId(client: ApiClient, project: string, idOrName: string): Promise<string> {
  if (/^\d+$/.test(idOrName)) return idOrName;
  const { experiments } = await client.get<{ experiments: Experiment[] }>("/api/v1/experiments", {
    project,
    view: "all",
  });
  const found = experiments.find((e) => e.name === idOrName);
  if (!found) throw new CliError(`experiment '${idOrName}' not found in project ${project}`, 4);
  return found.id;
}

const list = (value: string, all: string[]) => [...all, value];

export function registerTrackingCommands(program: Command, ctx: CliContext): void {
  const experiment = program.command("experiment").description("experiments: groups of tracked runs");
  experiment
    .command("list")
    .description("experiments of a project")
    .option("--project <project>", "project", "default")
    .option("--all", "include deleted experiments")
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf<{ project: string; all?: boolean }>(cmd);
      const reply = await ctx.client().get<{ experiments: Experiment[] }>("/api/v1/experiments", {
        project: opts.project,
        view: opts.all ? "all" : "active",
      });
      emit(opts, reply, () =>
        printTable(
          reply.experiments.map((e) => ({
            id: e.id,
            name: e.name,
            stage: e.lifecycleStage,
            created: formatTime(e.creationTime),
          })),
        ),
      );
    });
  experiment
    .command("create <name>")
    .description("create an experiment")
    .option("--project <project>", "project", "default")
    .action(async (name: string, _o, cmd: Command) => {
      const opts = optionsOf<{ project: string }>(cmd);
      const created = await ctx
        .client()
        .post<Experiment>("/api/v1/experiments", { name, project: opts.project });
      emit(opts, created, () =>
        process.stdout.write(`created experiment ${created.name} (id ${created.id})\n`),
      );
    });

  const run = runCommandGroup(program);
  run
    .command("list")
    .description("runs of an experiment, newest first (MLflow filter syntax)")
    .requiredOption("--experiment <id|name>", "experiment id or name")
    .option("--project <project>", "project of a named experiment", "default")
    .option("--filter <filter>", "e.g. \"metrics.acc > 0.9 and params.lr = '0.01'\"")
    .option("--order-by <clause>", "e.g. 'metrics.acc DESC' (repeatable)", list, [])
    .option("--max <n>", "at most this many runs", (v) => Number.parseInt(v, 10), 50)
    .option("--all", "include deleted runs")
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf<{
        experiment: string;
        project: string;
        filter?: string;
        orderBy: string[];
        max: number;
        all?: boolean;
      }>(cmd);
      const client = ctx.client();
      const id = await experimentId(client, opts.project, opts.experiment);
      const params = new URLSearchParams({ experimentId: id, maxResults: String(opts.max) });
      if (opts.filter) params.set("filter", opts.filter);
      if (opts.all) params.set("view", "ALL");
      for (const o of opts.orderBy) params.append("orderBy", o);
      const reply = await client.get<{ runs: NativeRun[]; nextPageToken?: string }>(`/api/v1/runs?${params}`);
      emit(opts, reply, () => {
        const metricKeys = [...new Set(reply.runs.flatMap((r) => Object.keys(r.metrics)))].sort().slice(0, 4);
        printTable(
          reply.runs.map((r) => ({
            id: r.id,
            name: r.name,
            status: r.status,
            started: formatTime(r.startTime),
            ...Object.fromEntries(metricKeys.map((k) => [k, r.metrics[k]?.value])),
          })),
          ["id", "name", "status", "started", ...metricKeys],
        );
        if (reply.nextPageToken) process.stdout.write("(more runs: raise --max or narrow --filter)\n");
      });
    });

  run
    .command("show <run>")
    .description("one run: status, lineage, params, latest metrics, tags (a job id shows the job's run)")
    .action(async (runOrJobId: string, _o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const r = await runOrJobRun(ctx.client(), runOrJobId);
      emit(opts, r, () => {
        printKeyValues({
          id: r.id,
          name: r.name,
          experiment: r.experimentId,
          status: r.status,
          started: formatTime(r.startTime),
          ended: formatTime(r.endTime),
          user: r.user,
          artifacts: r.artifactUri,
          ...Object.fromEntries(Object.entries(r.lineage).map(([k, v]) => [`lineage.${k}`, v])),
        });
        process.stdout.write("\nparams\n");
        printTable(Object.entries(r.params).map(([key, value]) => ({ key, value })));
        process.stdout.write("\nmetrics (latest)\n");
        printTable(Object.entries(r.metrics).map(([key, m]) => ({ key, value: m.value, step: m.step })));
        const tags = Object.entries(r.tags).filter(
          ([k]) => !k.startsWith("mlflow.") && !k.startsWith("mlops."),
        );
        if (tags.length > 0) {
          process.stdout.write("\ntags\n");
          printTable(tags.map(([key, value]) => ({ key, value })));
        }
      });
    });

  run
    .command("compare <runs...>")
    .description("a table of params and latest metrics across runs")
    .option("--params <keys>", "comma-separated param keys (default: all)")
    .option("--metrics <keys>", "comma-separated metric keys (default: all)")
    .action(async (runs: string[], _o, cmd: Command) => {
      const opts = optionsOf<{ params?: string; metrics?: string }>(cmd);
      const table = await ctx.client().get<{
        params: string[];
        metrics: string[];
        runs: Array<{
          runId: string;
          runName: string;
          params: Record<string, string | null>;
          metrics: Record<string, number | null>;
        }>;
      }>("/api/v1/runs/compare", { runIds: runs.join(","), params: opts.params, metrics: opts.metrics });
      emit(opts, table, () =>
        printTable(
          table.runs.map((r) => ({
            run: r.runId.slice(0, 12),
            name: r.runName,
            ...Object.fromEntries(table.params.map((k) => [`param.${k}`, r.params[k]])),
            ...Object.fromEntries(table.metrics.map((k) => [`metric.${k}`, r.metrics[k]])),
          })),
          [
            "run",
            "name",
            ...table.params.map((k) => `param.${k}`),
            ...table.metrics.map((k) => `metric.${k}`),
          ],
        ),
      );
    });

  program
    .command("metrics <run> <key>")
    .description("a metric's history, downsampled by the server for a terminal")
    .option("--max-points <n>", "at most this many points", (v) => Number.parseInt(v, 10), 50)
    .action(async (runId: string, key: string, _o, cmd: Command) => {
      const opts = optionsOf<{ maxPoints: number }>(cmd);
      const history = await ctx
        .client()
        .get<{ mode: string; covered: number; points: Array<Record<string, number>> }>(
          `/api/v1/runs/${enc(runId)}/metrics/${enc(key)}`,
          { maxPoints: opts.maxPoints },
        );
      emit(opts, history, () => {
        printTable(history.points, ["step", "value", "min", "max", "count"]);
        process.stdout.write(`(${history.mode}, ${history.covered} points covered)\n`);
      });
    });

  const artifact = program.command("artifact").description("run artifacts");
  artifact
    .command("download <run> <path>")
    .description("download a run's file or directory")
    .option("--out <dir>", "destination directory", ".")
    .action(async (runId: string, artifactPath: string, _o, cmd: Command) => {
      const opts = optionsOf<{ out: string }>(cmd);
      const client = ctx.client();
      const files = await collectFiles(client, runId, artifactPath.replace(/^\/+|\/+$/g, ""));
      const written: string[] = [];
      for (const file of files)
        written.push(await downloadFile(client, runId, file, path.resolve(ctx.cwd, opts.out)));
      emit(opts, { files: written }, () => {
        for (const f of written) process.stdout.write(`${f}\n`);
      });
    });
}

/** The files at or below `artifactPath`: the directory's tree, or the one file it names. */
async function collectFiles(client: ApiClient, runId: string, artifactPath: string): Promise<string[]> {
  const { entries } = await client.get<{ entries: Entry[] }>(`/api/v1/runs/${enc(runId)}/artifacts`, {
    path: artifactPath,
  });
  if (entries.length === 0) {
    if (artifactPath === "") throw new CliError(`run ${runId} has no artifacts`, 4);
    return [artifactPath];
  }
  const files: string[] = [];
  for (const e of entries) {
    if (e.isDir) files.push(...(await collectFiles(client, runId, e.path)));
    else files.push(e.path);
  }
  return files;
}

async function downloadFile(client: ApiClient, runId: string, file: string, outDir: string): Promise<string> {
  const target = path.resolve(outDir, ...file.split("/"));
  // Server paths are normalized, but a client never trusts them to stay inside the output directory.
  if (!target.startsWith(outDir + path.sep))
    throw new CliError(`refusing to write outside ${outDir}: ${file}`);
  const response = await client.raw(
    "GET",
    `/api/v1/runs/${enc(runId)}/artifacts/${file.split("/").map(enc).join("/")}`,
  );
  if (!response.body) throw new CliError(`empty response for ${file}`);
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.part`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      createWriteStream(partial),
    );
    await rename(partial, target);
  } finally {
    await unlink(partial).catch(() => undefined);
  }
  return target;
}

/**
 * `run submit` prints a job id and its run id; `run show` takes either. A job id that is not a run id shows the
 * job's run, and says so on stderr (stdout stays the run, also with --json).
 */
async function runOrJobRun(client: ApiClient, id: string): Promise<NativeRun> {
  try {
    return await client.get<NativeRun>(`/api/v1/runs/${enc(id)}`);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  let job: { id: string; runId?: string | null };
  try {
    ({ job } = await client.get<{ job: { id: string; runId?: string | null } }>(`/api/v1/jobs/${enc(id)}`));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError(`no run or job '${id}'`, 4);
    throw err;
  }
  if (!job.runId) throw new CliError(`job ${job.id} has no run`, 4);
  process.stderr.write(`job ${job.id}: showing its run ${job.runId}\n`);
  return client.get<NativeRun>(`/api/v1/runs/${enc(job.runId)}`);
}
