import path from "node:path";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { packDirectory } from "../../artifacts/code-archive.js";
import { enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, printTable } from "../output.js";
import { followJob } from "./jobs-follow.js";
import { formatBytes, printEvents, printGpus, printJob } from "./jobs-output.js";

/**
 * Jobs on the command line. `mlops run submit|logs|cancel` (the `run` group is shared with tracking's
 * `run list|show|compare`, so it is looked up rather than created twice) and `mlops job list|show|
 * events|logs|cancel`; `mlops gpus` for the inventory.
 */
interface Job {
  id: string;
  name: string;
  projectId: string;
  state: string;
  stateReason: string;
  attempt: number;
  maxRetries: number;
  resources: { cpu: number; memoryMiB: number; gpus: number; gpuType?: string };
  command: string[];
  runId?: string;
  experimentId?: string;
  codeDigest?: string;
  createdBy?: string;
  submittedAt: string;
  startedAt?: string;
  finishedAt?: string;
  timeoutSeconds: number | null;
  priority: number;
}

interface Replica {
  replicaId: string;
  attempt: number;
  replicaIndex: number;
  gpuUuids: string[];
  state: string;
  pid: number | null;
  end: string | null;
  exitCode: number | null;
  signal: string | null;
}

interface SubmitOptions {
  project?: string;
  name?: string;
  gpus?: number;
  gpuType?: string;
  cpu?: number;
  memory?: number;
  priority?: number;
  maxRetries?: number;
  timeout?: number;
  network?: string;
  code?: string | false;
  env: string[];
  secretEnv: string[];
  experiment?: string;
  wait?: boolean;
  json?: boolean;
}

/** The named subcommand group, created once whoever registers first. */
export function commandGroup(program: Command, name: string, description: string): Command {
  return (
    program.commands.find((command) => command.name() === name) ??
    program.command(name).description(description)
  );
}

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new CliError(`${name} must be an integer, got '${value}'`, 2);
  return parsed;
};
const number = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new CliError(`${name} must be a number, got '${value}'`, 2);
  return parsed;
};

export function registerJobCommands(program: Command, ctx: CliContext): void {
  const run = commandGroup(program, "run", "runs: submit jobs (and tracking runs)");
  run
    .command("submit")
    .description(
      "submit a job: mlops run submit [options] -- COMMAND [ARGS...] ('python' means the platform's Python)",
    )
    .argument("<command...>", "the command to run, after --")
    .option("--project <project>", "project", "default")
    .option("--name <name>", "job name (default: the command)")
    .option("--gpus <n>", "GPUs per replica", integer("--gpus"))
    .option("--gpu-type <type>", "GPU type, e.g. h100")
    .option("--cpu <cores>", "CPU cores", number("--cpu"))
    .option("--memory <mib>", "memory limit in MiB", integer("--memory"))
    .option("--priority <n>", "higher runs first", integer("--priority"))
    .option("--max-retries <n>", "retries after a failed attempt", integer("--max-retries"))
    .option("--timeout <seconds>", "stop the job after this long", integer("--timeout"))
    .option("--network <mode>", "host (reach the API) or none (no network at all); default: the server's")
    .option("--code <dir>", "directory to pack as the job's code (default: current directory)")
    .option("--no-code", "run without a code archive")
    .option(
      "--env <K=V>",
      "environment variable (repeatable)",
      (value: string, all: string[]) => [...all, value],
      [],
    )
    .option(
      "--secret-env <K=V>",
      "write-only environment variable: reaches the job, never shown by any command (repeatable)",
      (value: string, all: string[]) => [...all, value],
      [],
    )
    .option("--experiment <name>", "experiment of the job's run (default: jobs)")
    .option("--wait", "stream the logs and exit 0 only if the job succeeds")
    .action(async (command: string[], _o, cmd: Command) => {
      const opts = optionsOf<SubmitOptions>(cmd);
      await submit(ctx, command, opts);
    });
  run
    .command("logs <job>")
    .description("print a job's logs (-f: follow live, across retries, until it ends)")
    .option("-f, --follow", "stream live until the job ends")
    .option("--replica <n>", "replica index", integer("--replica"), 0)
    .option("--attempt <n>", "attempt (default: the latest that ran)", integer("--attempt"))
    .action(async (job: string, _o, cmd: Command) => logs(ctx, job, optionsOf(cmd)));
  run
    .command("cancel <job>")
    .description("cancel a job (running replicas get SIGTERM, then SIGKILL)")
    .action(async (job: string, _o, cmd: Command) => cancel(ctx, job, optionsOf(cmd)));

  const job = commandGroup(program, "job", "GPU jobs: list, show, events, logs, cancel");
  job
    .command("list")
    .description("jobs in your projects, newest first")
    .option("--project <project>", "only this project")
    .option("--state <states>", "comma-separated: queued,scheduled,running,succeeded,failed,cancelled")
    .option("--limit <n>", "how many", integer("--limit"), 50)
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf<{ project?: string; state?: string; limit: number }>(cmd);
      const { jobs } = await ctx.client().get<{ jobs: Job[] }>("/api/v1/jobs", {
        project: opts.project,
        state: opts.state,
        limit: opts.limit,
      });
      emit(opts, jobs, () =>
        printTable(
          jobs.map((j) => ({
            id: j.id,
            name: j.name.slice(0, 40),
            state: j.state,
            gpus:
              j.resources.gpus > 0
                ? `${j.resources.gpus}${j.resources.gpuType ? ` ${j.resources.gpuType}` : ""}`
                : "-",
            attempt: j.attempt,
            submitted: j.submittedAt.replace(/\.\d+Z$/, "Z"),
            reason: j.stateReason.slice(0, 70),
          })),
        ),
      );
    });
  job
    .command("show <job>")
    .description("a job with its replicas and state history")
    .action(async (id: string, _o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const client = ctx.client();
      const shown = await client.get<{ job: Job; replicas: Replica[] }>(`/api/v1/jobs/${enc(id)}`);
      const { events } = await client.get<{ events: Array<Record<string, unknown>> }>(
        `/api/v1/jobs/${enc(id)}/events`,
      );
      emit(opts, { ...shown, events }, () => printJob(shown.job, shown.replicas, events));
    });
  job
    .command("events <job>")
    .description("the job's state transitions")
    .action(async (id: string, _o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const { events } = await ctx
        .client()
        .get<{ events: Array<Record<string, unknown>> }>(`/api/v1/jobs/${enc(id)}/events`);
      emit(opts, events, () => printEvents(events));
    });
  job
    .command("logs <job>")
    .description("same as `mlops run logs`")
    .option("-f, --follow", "stream live until the job ends")
    .option("--replica <n>", "replica index", integer("--replica"), 0)
    .option("--attempt <n>", "attempt", integer("--attempt"))
    .action(async (id: string, _o, cmd: Command) => logs(ctx, id, optionsOf(cmd)));
  job
    .command("cancel <job>")
    .description("same as `mlops run cancel`")
    .action(async (id: string, _o, cmd: Command) => cancel(ctx, id, optionsOf(cmd)));

  program
    .command("gpus")
    .description("GPU inventory: detected or declared devices, who holds what, the sandbox status")
    .action(async (_o, cmd: Command) => printGpus(ctx.client(), optionsOf(cmd)));
}

function envPairs(flag: string, pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(`${flag} expects KEY=VALUE, got '${pair}'`, 2);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

async function submit(ctx: CliContext, command: string[], opts: SubmitOptions): Promise<void> {
  const client = ctx.client();
  const env = envPairs("--env", opts.env);
  const secretEnv = envPairs("--secret-env", opts.secretEnv);
  let codeDigest: string | undefined;
  if (opts.code !== false) {
    const dir = path.resolve(ctx.cwd, opts.code ?? ".");
    const packed = await packDirectory(dir);
    const response = await client.raw("POST", `/api/v1/jobs/code?project=${enc(opts.project ?? "default")}`, {
      body: Readable.toWeb(packed.stream) as unknown as ReadableStream,
      headers: { "content-type": "application/octet-stream" },
      duplex: "half",
    } as RequestInit);
    codeDigest = ((await response.json()) as { sha256: string }).sha256;
    process.stderr.write(
      `packed ${packed.files.length} files (${formatBytes(packed.totalBytes)}) from ${dir}\n`,
    );
  }
  const job = await client.post<Job>("/api/v1/jobs", {
    project: opts.project,
    name: opts.name,
    command,
    env,
    ...(Object.keys(secretEnv).length > 0 ? { secretEnv } : {}),
    resources: {
      ...(opts.gpus !== undefined ? { gpus: opts.gpus } : {}),
      ...(opts.gpuType ? { gpuType: opts.gpuType } : {}),
      ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
      ...(opts.memory !== undefined ? { memoryMiB: opts.memory } : {}),
    },
    ...(opts.network ? { network: opts.network } : {}),
    priority: opts.priority,
    maxRetries: opts.maxRetries,
    timeoutSeconds: opts.timeout,
    codeDigest,
    experiment: opts.experiment,
  });
  if (!opts.wait) {
    emit(opts, job, () =>
      process.stdout.write(`submitted job ${job.id} (run ${job.runId ?? "-"}): ${job.state}\n`),
    );
    return;
  }
  process.stderr.write(`submitted job ${job.id} (run ${job.runId ?? "-"})\n`);
  const final = await followJob(client, job.id, {
    stdout: opts.json ? process.stderr : process.stdout,
    stderr: process.stderr,
    status: (line) => process.stderr.write(`[mlops] ${line}\n`),
  });
  if (opts.json) {
    const { job: shown } = await client.get<{ job: Job }>(`/api/v1/jobs/${enc(job.id)}`);
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
  }
  if (final.state !== "succeeded")
    throw new CliError(`job ${job.id} ${final.state}: ${final.stateReason}`, 1);
  process.stderr.write(`[mlops] job ${job.id} succeeded\n`);
}

async function logs(
  ctx: CliContext,
  id: string,
  opts: { follow?: boolean; replica: number; attempt?: number; json?: boolean },
): Promise<void> {
  const client = ctx.client();
  if (opts.follow) {
    const final = await followJob(client, id, {
      replica: opts.replica,
      stdout: process.stdout,
      stderr: process.stderr,
    });
    process.stderr.write(`[mlops] job ${id} ${final.state}: ${final.stateReason}\n`);
    return;
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const query = `replica=${opts.replica}&stream=${stream}${opts.attempt !== undefined ? `&attempt=${opts.attempt}` : ""}`;
    const response = await client.raw("GET", `/api/v1/jobs/${enc(id)}/logs?${query}`);
    const target = stream === "stdout" ? process.stdout : process.stderr;
    if (response.body)
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) target.write(chunk);
  }
}

async function cancel(ctx: CliContext, id: string, opts: { json?: boolean }): Promise<void> {
  const job = await ctx.client().post<Job & { cancelRequested?: boolean }>(`/api/v1/jobs/${enc(id)}/cancel`);
  emit(opts, job, () =>
    process.stdout.write(
      job.state === "cancelled"
        ? `job ${job.id} cancelled\n`
        : `job ${job.id} is being stopped (${job.state})\n`,
    ),
  );
}
