import { createReadStream, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { ConflictError, InputError, NotFoundError, UnprocessableError } from "../../errors.js";
import {
  gangProblems,
  type LogChunk,
  type LogOptions,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  type ReplicaStatus,
  type ReplicaUsage,
  type Runtime,
  type RuntimeDescription,
  replicaIdOf,
} from "../runtime.js";
import { prepareJobDir } from "./job-dirs.js";
import { tailLogs } from "../log-files.js";
import { replicaStatusOf, toExit } from "./replica-status.js";
import { planSbatch } from "./sbatch-plan.js";
import type { SlurmCli } from "./slurm-cli.js";
import { type LaunchRecord, SlurmFiles, writeJsonAtomic } from "./slurm-files.js";
import { parseSlurmDuration, parseSlurmSize, parseSqueue, type QueueEntry } from "./slurm-text.js";

export interface SlurmRuntimeOptions {
  cli: SlurmCli;
  /** The shared work dir (same path on the control plane and every node). */
  workDir: string;
  artifacts: ArtifactStore;
  /** Interpreter on the nodes for `python` commands and the rank wrapper. */
  python: string;
  partition?: string;
  account?: string;
  /** Unprivileged cluster user the jobs run as (sbatch --uid/--gid; the control plane runs as root). */
  jobUser?: { name: string; uid: number; gid: number };
  /** SIGTERM -> SIGKILL grace (default 10 s). */
  defaultGraceMs?: number;
  /** How often records and squeue are polled (default 500 ms). */
  pollIntervalMs?: number;
  /** How long start/startGang wait for the ranks to run before returning them as "starting" (default 60 s). */
  startWaitMs?: number;
}

const NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** After a stop's grace, how long the wrapper gets to record the end before the allocation is killed. */
const STOP_BACKSTOP_MS = 5_000;

/**
 * The Slurm runtime (docs/architecture/slurm.md): a gang is one sbatch allocation, each rank one srun
 * task under the rank wrapper (rank-wrapper.ts). The control plane and the nodes share only the work
 * dir and Slurm: records there plus squeue are the whole state, so any control-plane process reconciles.
 */
export class SlurmRuntime implements Runtime {
  readonly files: SlurmFiles;
  private readonly closing = new AbortController();
  private readonly graceMs: number;
  private readonly pollMs: number;
  private queueCache: { key: string; at: number; result: Promise<Map<string, QueueEntry>> } | null = null;
  private readonly cpuSamples = new Map<string, { cpuSeconds: number; at: number }>();

  constructor(private readonly options: SlurmRuntimeOptions) {
    this.files = new SlurmFiles(path.resolve(options.workDir));
    this.graceMs = options.defaultGraceMs ?? 10_000;
    this.pollMs = options.pollIntervalMs ?? 500;
  }

  describe(): RuntimeDescription {
    return { name: "slurm", sandbox: "cluster", memoryLimit: "cluster", placement: "cluster" };
  }

  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const [handle] = await this.launch([spec]);
    return handle;
  }

  async startGang(specs: readonly ReplicaSpec[]): Promise<ReplicaHandle[]> {
    const problems = gangProblems(specs);
    if (problems.length > 0) throw new InputError(`invalid gang: ${problems.join("; ")}`);
    return this.launch([...specs].sort((a, b) => a.replicaIndex - b.replicaIndex));
  }

  private async launch(specs: ReplicaSpec[]): Promise<ReplicaHandle[]> {
    const ids = specs.map((spec) => replicaIdOf(spec));
    for (const spec of specs) validateSpec(spec);
    for (const id of ids) {
      if (this.files.readLaunch(id)) throw new ConflictError(`replica ${id} exists already`);
    }
    const graceMs = specs[0].graceMs ?? this.graceMs;
    const gangDir = this.files.gangDir(ids[0]);
    const plan = planSbatch({
      specs,
      replicaIds: ids,
      partition: this.options.partition,
      account: this.options.account,
      jobUser: this.options.jobUser,
      python: this.options.python,
      wrapperPath: this.files.wrapperPath,
      runsDir: this.files.runsDir,
      jobDir: this.files.jobDir(specs[0].jobId),
      batchOutput: path.join(gangDir, "batch.out"),
      scontrol: this.options.cli.tool("scontrol"),
      path: NODE_PATH,
      graceMs,
    });
    const owner = this.options.jobUser;
    const { workDir, outputDir } = await prepareJobDir({
      dir: this.files.jobDir(specs[0].jobId),
      codeDigest: specs[0].codeDigest,
      artifacts: this.options.artifacts,
      owner,
    });
    rmSync(gangDir, { recursive: true, force: true });
    mkdirSync(gangDir, { recursive: true, mode: 0o755 });
    this.files.giveTo(gangDir, owner);
    const createdAt = new Date().toISOString();
    specs.forEach((spec, i) => {
      this.writeTask(ids[i], spec, { workDir, outputDir, graceMs });
      this.files.writeLaunch({
        replicaId: ids[i],
        jobId: spec.jobId,
        attempt: spec.attempt,
        replicaIndex: spec.replicaIndex,
        gang: ids,
        slurmJobId: null,
        graceMs: spec.graceMs ?? this.graceMs,
        createdAt,
      });
    });
    const scriptPath = path.join(gangDir, "batch.sh");
    writeFileSync(scriptPath, plan.script, { mode: 0o755 });
    let slurmJobId: string;
    try {
      slurmJobId = await this.options.cli.sbatch(plan.args, scriptPath);
    } catch (err) {
      for (const id of ids) this.files.remove(id);
      throw new UnprocessableError(`Slurm refused the job: ${(err as Error).message}`);
    }
    for (const id of ids) this.files.writeLaunch({ ...this.files.readLaunch(id)!, slurmJobId });
    await this.waitForStart(ids, slurmJobId, path.join(gangDir, "batch.out"));
    return ids.map((id) => {
      const started = this.files.started(id);
      const exited = this.wait(id);
      exited.catch(() => undefined); // close() ends the watch: nobody's rejection to crash on
      return {
        replicaId: id,
        pid: null,
        externalId: slurmJobId,
        ...(started ? { node: started.node } : {}),
        startedAt: started?.startedAt ?? createdAt,
        exited,
      };
    });
  }

  private writeTask(
    replicaId: string,
    spec: ReplicaSpec,
    dirs: { workDir: string; outputDir: string; graceMs: number },
  ): void {
    const runDir = this.files.runDir(replicaId);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    this.files.giveTo(runDir, this.options.jobUser);
    const logs = this.files.logFiles(replicaId);
    for (const file of [logs.stdout, logs.stderr]) {
      writeFileSync(file, "", { mode: 0o600 });
      this.files.giveTo(file, this.options.jobUser);
    }
    const program =
      spec.command[0] === "python" || spec.command[0] === "python3" ? this.options.python : spec.command[0];
    const pythonPath = [this.files.sdkDir, spec.env.PYTHONPATH].filter(Boolean).join(":");
    const task = {
      argv: [program, ...spec.command.slice(1)],
      cwd: dirs.workDir,
      env: {
        PATH: NODE_PATH,
        ...spec.env,
        HOME: dirs.workDir,
        MLOPS_WORK_DIR: dirs.workDir,
        MLOPS_OUTPUT_DIR: dirs.outputDir,
        PYTHONPATH: pythonPath,
      },
      gpus: spec.resources.gpus,
      rank: spec.rank ?? null,
      timeoutSeconds: spec.timeoutSeconds,
      graceMs: spec.graceMs ?? dirs.graceMs,
      mask: (spec.maskInLogs ?? []).filter((value) => value.length > 0),
      stdoutPath: logs.stdout,
      stderrPath: logs.stderr,
    };
    const taskFile = path.join(runDir, "task.json");
    writeJsonAtomic(taskFile, task, 0o600);
    this.files.giveTo(taskFile, this.options.jobUser);
  }

  /** Until every rank runs (or ended), the allocation failed to start, or startWaitMs passed (pending). */
  private async waitForStart(ids: string[], slurmJobId: string, batchOutput: string): Promise<void> {
    const deadline = Date.now() + (this.options.startWaitMs ?? 60_000);
    while (Date.now() < deadline) {
      if (ids.every((id) => this.files.started(id) || this.files.exit(id))) return;
      const job = (await this.queue([slurmJobId])).get(slurmJobId);
      if (!job || !["PENDING", "CONFIGURING", "RUNNING"].includes(job.state)) {
        if (ids.every((id) => this.files.started(id) || this.files.exit(id))) return;
        const output = existsSync(batchOutput) ? (await readTail(batchOutput)).trim() : "";
        for (const id of ids) this.files.remove(id);
        throw new UnprocessableError(
          `Slurm job ${slurmJobId} ended ${job?.state ?? "(unknown)"}${job?.reason ? ` (${job.reason})` : ""} before its ranks started${output ? `: ${output}` : ""}`,
        );
      }
      await sleep(Math.min(this.pollMs, 200));
    }
  }

  async wait(replicaId: string): Promise<ReplicaExit> {
    if (!this.files.readLaunch(replicaId)) throw new NotFoundError(`no replica ${replicaId}`);
    for (;;) {
      const status = await this.inspect(replicaId);
      if (status.exit) return status.exit;
      await sleep(this.pollMs, undefined, { signal: this.closing.signal });
    }
  }

  async stop(replicaId: string, options: { graceMs?: number } = {}): Promise<ReplicaExit> {
    const launch = this.launchOf(replicaId);
    const status = await this.inspect(replicaId);
    if (status.exit) return status.exit;
    const graceMs = options.graceMs ?? launch.graceMs;
    this.files.writeLaunch({ ...launch, stopRequestedAt: new Date().toISOString() });
    this.files.writeStop(replicaId, graceMs);
    const slurmJobId = launch.slurmJobId;
    const wholeJobEnding = launch.gang.every(
      (id) => id === replicaId || this.files.exit(id) !== null || this.files.stopRequested(id),
    );
    if (slurmJobId && wholeJobEnding) {
      // Pending: nothing runs yet, cancel outright. Running: TERM to the ranks (the wrapper also polls
      // stop.json; the signal only makes it act at once), the wrapper kills after the grace.
      if (status.state === "starting" && !this.files.started(replicaId)) await this.cancel(slurmJobId);
      else await this.options.cli.scancel(slurmJobId, { signal: "TERM" }).catch(() => undefined);
    }
    const deadline = Date.now() + graceMs + STOP_BACKSTOP_MS;
    for (;;) {
      const current = await this.inspect(replicaId);
      if (current.exit) {
        if (slurmJobId && wholeJobEnding) await this.awaitAllocationGone(slurmJobId);
        return current.exit;
      }
      if (Date.now() > deadline && slurmJobId) {
        // The wrapper did not record the end in time (node gone, shared dir stalled): end the allocation.
        await this.cancel(slurmJobId);
      }
      await sleep(Math.min(this.pollMs, 200));
    }
  }

  logs(replicaId: string, options: LogOptions = {}): AsyncIterable<LogChunk> {
    const files = this.files.logFiles(replicaId);
    if (!this.files.readLaunch(replicaId) && !existsSync(files.stdout)) {
      throw new NotFoundError(`no logs for replica ${replicaId}`);
    }
    return tailLogs(files, {
      follow: options.follow ?? false,
      from: options.from,
      pollMs: Math.min(this.pollMs, 250),
      signal: options.signal,
      isFinished: async () =>
        !this.files.readLaunch(replicaId) || (await this.inspect(replicaId)).exit !== undefined,
    });
  }

  async logArchive(replicaId: string): Promise<{ stdout: Readable; stderr: Readable }> {
    const files = this.files.logFiles(replicaId);
    if (!this.files.readLaunch(replicaId) && !existsSync(files.stdout)) {
      throw new NotFoundError(`no logs for replica ${replicaId}`);
    }
    const open = (file: string) => (existsSync(file) ? createReadStream(file) : new PassThrough().end());
    return { stdout: open(files.stdout), stderr: open(files.stderr) };
  }

  /** sstat of the job's step 0 (one task per rank): averages per task, CPU as a rate between samples. */
  async usage(replicaId: string): Promise<ReplicaUsage | null> {
    const launch = this.files.readLaunch(replicaId);
    if (!launch?.slurmJobId || (await this.inspect(replicaId)).state !== "running") return null;
    let line: string | undefined;
    try {
      line = (await this.options.cli.sstat(`${launch.slurmJobId}.0`))
        .split("\n")
        .find((l) => l.trim() !== "");
    } catch {
      return null; // no JobAcctGather plugin on this cluster, or the step just ended
    }
    if (!line) return null;
    const [, aveCpu, aveRss] = line.split("|");
    const memoryBytes = parseSlurmSize(aveRss ?? "");
    const cpuSeconds = parseSlurmDuration(aveCpu ?? "");
    const now = Date.now();
    const previous = this.cpuSamples.get(replicaId);
    let cpuCores: number | undefined;
    if (cpuSeconds !== null) {
      if (previous && now > previous.at)
        cpuCores = Math.max(0, (cpuSeconds - previous.cpuSeconds) / ((now - previous.at) / 1000));
      this.cpuSamples.set(replicaId, { cpuSeconds, at: now });
    }
    return {
      ...(cpuCores !== undefined ? { cpuCores } : {}),
      ...(memoryBytes !== null ? { memoryBytes } : {}),
      sampledAt: new Date(now).toISOString(),
    };
  }

  async reconcile(): Promise<ReplicaStatus[]> {
    const ids = this.files.replicaIds();
    const jobIds = ids.map((id) => this.files.readLaunch(id)?.slurmJobId).filter((j): j is string => !!j);
    await this.queue([...new Set(jobIds)]);
    const statuses: ReplicaStatus[] = [];
    for (const id of ids) if (this.files.readLaunch(id)) statuses.push(await this.inspect(id));
    return statuses;
  }

  async remove(replicaId: string): Promise<void> {
    if (!this.files.readLaunch(replicaId)) return;
    if ((await this.inspect(replicaId)).exit === undefined)
      throw new ConflictError(`replica ${replicaId} is still running`);
    this.files.remove(replicaId);
    this.cpuSamples.delete(replicaId);
  }

  async removeJobFiles(jobId: string): Promise<void> {
    if (jobId === "" || jobId.includes("/") || jobId.startsWith("."))
      throw new InputError(`invalid job id '${jobId}'`);
    for (const id of this.files.replicaIds()) {
      if (this.files.readLaunch(id)?.jobId !== jobId) continue;
      if ((await this.inspect(id)).exit === undefined) {
        throw new ConflictError(`replica ${id} of job ${jobId} still runs`);
      }
    }
    await rm(this.files.jobDir(jobId), { recursive: true, force: true });
  }

  async deleteVolume(name: string): Promise<void> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name))
      throw new InputError(`invalid volume name '${name}'`);
    await rm(this.files.volumeDir(name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  /** Current state of one replica from its records and squeue; a synthesized end is persisted once. */
  async inspect(replicaId: string): Promise<ReplicaStatus> {
    const launch = this.launchOf(replicaId);
    const job = launch.slurmJobId
      ? ((await this.queue([launch.slurmJobId])).get(launch.slurmJobId) ?? null)
      : null;
    // Records after squeue: an exit written between the two reads is then seen, never missed.
    const result = replicaStatusOf({
      launch,
      started: this.files.started(replicaId),
      exit: this.files.exit(replicaId),
      job,
      now: new Date().toISOString(),
    });
    if (!result.synthesized) return result.status;
    const late = this.files.exit(replicaId); // the wrapper's record may have landed meanwhile
    if (late)
      return { ...result.status, state: late.end === "lost" ? "lost" : "exited", exit: toExit(launch, late) };
    this.files.writeLaunch({ ...launch, exit: result.synthesized });
    return result.status;
  }

  private launchOf(replicaId: string): LaunchRecord {
    const launch = this.files.readLaunch(replicaId);
    if (!launch) throw new NotFoundError(`no replica ${replicaId}`);
    return launch;
  }

  /** squeue for these jobs, shared by every caller within a short window (one call per poll round). */
  private queue(jobIds: string[]): Promise<Map<string, QueueEntry>> {
    const key = [...jobIds].sort().join(",");
    const cached = this.queueCache;
    const covered = cached ? new Set(cached.key.split(",")) : null;
    if (
      cached &&
      covered &&
      Date.now() - cached.at < Math.min(this.pollMs, 250) &&
      jobIds.every((id) => covered.has(id))
    ) {
      return cached.result;
    }
    const result = this.options.cli.squeue(jobIds).then(parseSqueue);
    this.queueCache = { key, at: Date.now(), result };
    result.catch(() => {
      if (this.queueCache?.result === result) this.queueCache = null;
    });
    return result;
  }

  private async cancel(slurmJobId: string): Promise<void> {
    await this.options.cli.scancel(slurmJobId, { signal: "KILL", full: true }).catch(() => undefined);
    await this.options.cli.scancel(slurmJobId).catch(() => undefined);
  }

  /** Until squeue no longer shows the allocation as active (its processes are gone), at most 30 s. */
  private async awaitAllocationGone(slurmJobId: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    let cancelled = false;
    while (Date.now() < deadline) {
      this.queueCache = null;
      const job = (await this.queue([slurmJobId])).get(slurmJobId);
      if (!job || !["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"].includes(job.state))
        return;
      if (!cancelled && job.state === "RUNNING") {
        await this.options.cli.scancel(slurmJobId).catch(() => undefined);
        cancelled = true;
      }
      await sleep(200);
    }
  }
}

function validateSpec(spec: ReplicaSpec): void {
  if (spec.command.length === 0 || spec.command[0] === "") throw new InputError("command must not be empty");
  if (spec.ports && spec.ports.length > 0) {
    throw new UnprocessableError(
      "the Slurm runtime does not publish ports yet (workspaces run on the local runtime)",
    );
  }
  if ((spec.volumes && spec.volumes.length > 0) || spec.user) {
    throw new UnprocessableError("the Slurm runtime does not mount volumes or present users yet");
  }
  if (spec.network === "none") {
    throw new UnprocessableError(
      "the Slurm runtime cannot take a job's network away (network: none); use the local runtime",
    );
  }
  if (spec.timeoutSeconds !== null && !(spec.timeoutSeconds > 0))
    throw new InputError("timeoutSeconds must be > 0");
}

async function readTail(file: string): Promise<string> {
  return (await readFile(file, "utf8")).slice(-2000);
}
