import path from "node:path";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, printTable } from "../output.js";
import { followJob } from "./jobs-follow.js";
import { formatBytes, printEvents, printGpus, printJob, type ReplicaOutput } from "./jobs-output.js";

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
  replicas: number;
  distributed?: { nodes: number; procsPerNode: number };
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

interface SubmitOptions {
  project?: string;
  name?: string;
  gpus?: number;
  gpusPerNode?: number;
  nodes?: number;
  procsPerNode?: number;
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
const rank = (value: string): number | "all" => {
  if (value === "all") return "all";
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new CliError(`--rank must be a rank or 'all', got '${value}'`, 2);
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
    // Inside a workspace MLOPS_PROJECT names its project: jobs submitted there land in it.
    .option(
      "--project <project>",
      "project (default: $MLOPS_PROJECT, else default)",
      ctx.env.MLOPS_PROJECT ?? "default",
    )
    .option("--name <name>", "job name (default: the command)")
    .option("--nodes <n>", "distributed: nodes of the gang (default 1)", integer("--nodes"))
    .option(
      "--procs-per-node <n>",
      "distributed: ranks (processes) per node, each with gpus-per-node / n GPUs (default 1)",
      integer("--procs-per-node"),
    )
    .option("--gpus-per-node <n>", "GPUs per node", integer("--gpus-per-node"))
    .option("--gpus <n>", "GPUs per node (the same as --gpus-per-node)", integer("--gpus"))
    .option("--gpu-type <type>", "GPU type, e.g. h100")
    .option("--cpu <cores>", "CPU cores per node (shared by its ranks)", number("--cpu"))
    .option("--memory <mib>", "memory limit in MiB per node (shared by its ranks)", integer("--memory"))
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
    .option("--rank <r>", "one rank's logs (default: all ranks interleaved, lines prefixed [rank R])", rank)
    .option("--replica <n>", "the same as --rank N", integer("--replica"))
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
                ? `${(j.distributed?.nodes ?? 1) > 1 ? `${j.distributed?.nodes}x` : ""}${j.resources.gpus}${j.resources.gpuType ? ` ${j.resources.gpuType}` : ""}`
                : "-",
            ranks: j.replicas,
            attempt: j.attempt,
            submitted: j.submittedAt.replace(/\.\d+Z$/, "Z"),
            reason: j.stateReason.slice(0, 70),
          })),
        ),
      );
    });
  job
    .command("show <job>")
    .description("a job with its ranks (node, state, exit, pid, CPU, memory, GPU use) and state history")
    .action(async (id: string, _o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const client = ctx.client();
      const shown = await client.get<{ job: Job; replicas: ReplicaOutput[] }>(`/api/v1/jobs/${enc(id)}`);
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
    .option("--rank <r>", "one rank's logs (default: all ranks interleaved, lines prefixed [rank R])", rank)
    .option("--replica <n>", "the same as --rank N", integer("--replica"))
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
    // tar is loaded on use: commands that upload no code start faster.
    const { packDirectory } = await import("../../artifacts/code-archive.js");
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
  if (opts.gpus !== undefined && opts.gpusPerNode !== undefined && opts.gpus !== opts.gpusPerNode) {
    throw new CliError("--gpus and --gpus-per-node are the same setting: give one", 2);
  }
  const gpus = opts.gpusPerNode ?? opts.gpus;
  const job = await client.post<Job>("/api/v1/jobs", {
    project: opts.project,
    name: opts.name,
    command,
    env,
    ...(Object.keys(secretEnv).length > 0 ? { secretEnv } : {}),
    ...(opts.nodes !== undefined ? { nodes: opts.nodes } : {}),
    ...(opts.procsPerNode !== undefined ? { procsPerNode: opts.procsPerNode } : {}),
    resources: {
      ...(gpus !== undefined ? { gpus } : {}),
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
  const ranks = job.replicas > 1 ? ` with ${job.replicas} ranks` : "";
  const waiting = job.stateReason.startsWith("cannot run") ? `\n  ${job.stateReason}` : "";
  if (!opts.wait) {
    emit(opts, job, () =>
      process.stdout.write(
        `submitted job ${job.id}${ranks} (run ${job.runId ?? "-"}): ${job.state}${waiting}\n`,
      ),
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
  opts: { follow?: boolean; rank?: number | "all"; replica?: number; attempt?: number; json?: boolean },
): Promise<void> {
  const client = ctx.client();
  if (opts.rank !== undefined && opts.replica !== undefined && opts.rank !== opts.replica) {
    throw new CliError("--rank and --replica are the same setting: give one", 2);
  }
  // Neither: the server's default (all ranks interleaved for a distributed job, else its one replica).
  const rank = opts.rank ?? opts.replica;
  if (opts.follow) {
    const final = await followJob(client, id, {
      ...(rank !== undefined ? { rank } : {}),
      stdout: process.stdout,
      stderr: process.stderr,
    });
    process.stderr.write(`[mlops] job ${id} ${final.state}: ${final.stateReason}\n`);
    return;
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const query = `${rank !== undefined ? `rank=${rank}&` : ""}stream=${stream}${opts.attempt !== undefined ? `&attempt=${opts.attempt}` : ""}`;
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
