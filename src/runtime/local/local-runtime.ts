import type { ChildProcess } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ConflictError, InputError, NotFoundError, UnprocessableError } from "../../errors.js";
import {
  type LogChunk,
  type LogOptions,
  type ReplicaExit,
  type ReplicaHandle,
  type ReplicaSpec,
  type ReplicaStatus,
  type Runtime,
  type RuntimeDescription,
  replicaIdOf,
} from "../runtime.js";
import { tailLogs } from "./log-tail.js";
import { isProcessAlive, killProcessGroup } from "./proc.js";
import { type LaunchRecord, type ProcessRecord, ReplicaStateStore, toReplicaExit } from "./replica-state.js";
import { type CgroupLayout, createReplicaCgroup, detectCgroups, removeReplicaCgroup } from "./cgroups.js";
import { chownWorkDir, launchCommand } from "./launch-command.js";
import {
  type Availability,
  envScript,
  findOnPath,
  LAUNCHER_ENV,
  probeBubblewrap,
  probeExecutable,
} from "./sandbox.js";
import { installSupervisorScript, spawnSupervisor } from "./supervisor-process.js";

export interface LocalRuntimeOptions {
  /** Per-replica records (survives restarts; keep it on local disk, out of every job's reach). */
  stateDir: string;
  /** stdout/stderr files, `<logDir>/<replicaId>.stdout.log`. */
  logDir: string;
  /**
   * "bubblewrap" (default): every replica runs sandboxed; where bubblewrap does not work, the runtime
   * refuses to start replicas (fail closed). "none": no isolation, the operator's explicit choice.
   */
  sandbox?: "bubblewrap" | "none";
  /** bubblewrap; default: `bwrap` looked up on searchPath. */
  bwrapPath?: string;
  /** Where `bwrap` is looked up when bwrapPath is unset (default: the system directories). */
  searchPath?: string;
  prlimitPath?: string;
  /** Node binary that runs the supervisors (default: this process's). */
  nodePath?: string;
  /** Paths no job may see: the platform's data dir, the jobs root. State and log dirs are always hidden. */
  hiddenPaths?: string[];
  /** Extra read-only paths inside the sandbox (e.g. a virtualenv outside /usr). */
  readOnlyPaths?: string[];
  /** SIGTERM -> SIGKILL grace for timeouts and stops (default 10 s). */
  defaultGraceMs?: number;
  /** How often replicas started by an earlier process, and followed logs, are polled (default 200 ms). */
  pollIntervalMs?: number;
  /** Use cgroups for memory and process limits where writable (default true; false: rlimits only). */
  cgroups?: boolean;
  /** cgroup root to look under (tests). */
  cgroupRoot?: string;
  /** Most processes/threads per replica (cgroup pids.max, or RLIMIT_NPROC of the workload uid). */
  maxProcesses?: number;
  /** Largest private /tmp (and /dev/shm) per replica; each is min(this, the replica's memory). */
  maxTmpMiB?: number;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
type ResolvedOptions = Required<
  Omit<LocalRuntimeOptions, "sandbox" | "cgroups" | "cgroupRoot" | "searchPath">
>;
/** A supervisor that has not reported its workload this long after launch is taken as dead. */
const START_GRACE_MS = 15_000;
/** After a stop's grace, how long the supervisor gets before the runtime kills the group itself. */
const STOP_BACKSTOP_MS = 5_000;

/**
 * Runs replicas as local process groups under bubblewrap (see sandbox.ts; fail closed: without a working
 * sandbox no replica starts unless the operator chose `sandbox: "none"`), each watched by a detached
 * supervisor (see supervisor-script.ts) so that replicas survive a control-plane crash and a new control
 * plane can reconcile them from the state dir. Memory and process counts are limited with a per-replica
 * cgroup (v2, or v1 memory+pids) where the host lets us create one — it charges shared mappings and
 * tmpfs too; otherwise with rlimits (see launch-command.ts). `cpu` is not enforced locally.
 */
export class LocalRuntime implements Runtime {
  private readonly store: ReplicaStateStore;
  private readonly waits = new Map<string, Promise<ReplicaExit>>();
  private readonly children = new Map<string, ChildProcess>();
  private readonly closing = new AbortController();

  private constructor(
    private readonly options: ResolvedOptions,
    private readonly sandboxMode: "bubblewrap" | "none",
    private readonly sandbox: Availability,
    private readonly memoryLimit: Availability,
    private readonly cgroups: CgroupLayout | null,
    private readonly supervisorPath: string,
  ) {
    this.store = new ReplicaStateStore(options.stateDir);
  }

  static async create(options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const resolved = {
      stateDir: path.resolve(options.stateDir),
      logDir: path.resolve(options.logDir),
      bwrapPath: options.bwrapPath ?? findOnPath("bwrap", options.searchPath ?? LAUNCHER_ENV.PATH),
      prlimitPath: options.prlimitPath ?? "/usr/bin/prlimit",
      nodePath: options.nodePath ?? process.execPath,
      hiddenPaths: (options.hiddenPaths ?? []).map((hidden) => path.resolve(hidden)),
      readOnlyPaths: options.readOnlyPaths ?? [],
      defaultGraceMs: options.defaultGraceMs ?? 10_000,
      pollIntervalMs: options.pollIntervalMs ?? 200,
      maxProcesses: options.maxProcesses ?? 4096,
      maxTmpMiB: options.maxTmpMiB ?? 4096,
    };
    mkdirSync(resolved.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(resolved.logDir, { recursive: true, mode: 0o700 });
    const mode = options.sandbox ?? "bubblewrap";
    const sandbox: Availability =
      mode === "none"
        ? { available: false, reason: "disabled by configuration (MLOPS_SANDBOX=none)" }
        : await probeBubblewrap(resolved.bwrapPath);
    const cgroups =
      options.cgroups === false
        ? { layout: null, reason: "disabled by configuration" }
        : detectCgroups(options.cgroupRoot);
    const rlimits = probeExecutable(resolved.prlimitPath);
    const memoryLimit: Availability =
      cgroups.layout !== null || rlimits.available
        ? { available: true }
        : { available: false, reason: `${cgroups.reason}; ${rlimits.available ? "" : rlimits.reason}` };
    const supervisorPath = installSupervisorScript(resolved.stateDir);
    return new LocalRuntime(resolved, mode, sandbox, memoryLimit, cgroups.layout, supervisorPath);
  }

  describe(): RuntimeDescription {
    const sandbox = this.sandbox.available
      ? "bubblewrap"
      : this.sandboxMode === "none"
        ? "none"
        : "unavailable";
    return {
      name: "local",
      sandbox,
      ...(this.sandbox.available ? {} : { sandboxReason: this.sandbox.reason }),
      memoryLimit: this.cgroups !== null ? "cgroup" : this.memoryLimit.available ? "rlimit" : "none",
      ...(this.memoryLimit.available ? {} : { memoryLimitReason: this.memoryLimit.reason }),
    };
  }

  logFiles(replicaId: string): { stdout: string; stderr: string } {
    const base = path.join(this.options.logDir, replicaId);
    return { stdout: `${base}.stdout.log`, stderr: `${base}.stderr.log` };
  }

  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    const replicaId = replicaIdOf(spec);
    if (spec.command.length === 0 || spec.command[0] === "")
      throw new InputError("command must not be empty");
    if (!path.isAbsolute(spec.workDir) || !isDirectory(spec.workDir)) {
      throw new InputError(`work dir ${spec.workDir} is not an existing absolute directory`);
    }
    if (this.sandboxMode === "bubblewrap" && !this.sandbox.available) {
      throw new UnprocessableError(
        `job execution is disabled: no working sandbox (${this.sandbox.reason}); set MLOPS_SANDBOX=none to run jobs without isolation`,
      );
    }
    const env = envScript({ PATH: DEFAULT_PATH, HOME: spec.workDir, TMPDIR: "/tmp", ...spec.env });
    if (this.sandbox.available) chownWorkDir(spec.workDir);
    const launch = this.launchRecord(replicaId, spec);
    this.store.create(launch);
    writeFileSync(launch.envFile!, env, { mode: 0o644 });
    const supervisor = spawnSupervisor(this.options.nodePath, this.supervisorPath, this.store.dir(replicaId));
    this.children.set(replicaId, supervisor.child);
    const exited = supervisor.closed.then(() => {
      this.children.delete(replicaId);
      return this.finalExit(replicaId);
    });
    this.waits.set(replicaId, exited);
    const pid = await supervisor.pid;
    if (pid === null && this.store.exit(replicaId) === null) {
      await exited;
      throw new Error(
        `replica ${replicaId}: supervisor failed: ${this.store.supervisorLog(replicaId) || "no output"}`,
      );
    }
    return {
      replicaId,
      pid,
      startedAt: this.store.process(replicaId)?.startedAt ?? launch.createdAt,
      exited,
    };
  }

  private launchRecord(replicaId: string, spec: ReplicaSpec): LaunchRecord {
    const sandboxed = this.sandbox.available;
    const files = this.logFiles(replicaId);
    const envFile = path.join(this.store.dir(replicaId), "env.sh");
    const memoryBytes = spec.memoryMiB * 1024 * 1024;
    const cgroup =
      this.cgroups === null
        ? null
        : createReplicaCgroup(this.cgroups, replicaId, {
            memoryBytes,
            maxProcesses: this.options.maxProcesses,
          });
    const { argv } = launchCommand({
      spec,
      bwrapPath: sandboxed ? this.options.bwrapPath : null,
      prlimitPath: this.memoryLimit.available && cgroup === null ? this.options.prlimitPath : null,
      hiddenPaths: [...this.options.hiddenPaths, this.options.stateDir, this.options.logDir],
      readOnlyPaths: this.options.readOnlyPaths,
      envFile,
      cgroupProcsFiles: cgroup?.procsFiles ?? [],
      maxProcesses: this.options.maxProcesses,
      tmpSizeBytes: Math.min(spec.memoryMiB, this.options.maxTmpMiB) * 1024 * 1024,
    });
    return {
      replicaId,
      jobId: spec.jobId,
      attempt: spec.attempt,
      replicaIndex: spec.replicaIndex,
      argv,
      // The launcher's own, fixed environment: the job's is in envFile, applied inside (sandbox.ts).
      env: { ...LAUNCHER_ENV },
      // Not the job's dir: nothing host-side resolves a relative path against what the job controls.
      cwd: sandboxed ? "/" : spec.workDir,
      stdoutPath: files.stdout,
      stderrPath: files.stderr,
      timeoutMs: spec.timeoutSeconds === null ? null : Math.round(spec.timeoutSeconds * 1000),
      graceMs: spec.graceMs ?? this.options.defaultGraceMs,
      spareLeaderOnTerm: sandboxed,
      sandbox: sandboxed ? "bubblewrap" : "none",
      maskValues: (spec.maskInLogs ?? []).filter((value) => value.length > 0),
      cgroupDirs: cgroup?.dirs ?? [],
      envFile,
      createdAt: new Date().toISOString(),
    };
  }

  wait(replicaId: string): Promise<ReplicaExit> {
    const known = this.waits.get(replicaId);
    if (known) return known;
    if (this.store.launch(replicaId) === null)
      return Promise.reject(new NotFoundError(`no replica ${replicaId}`));
    const polled = this.pollUntilEnded(replicaId);
    this.waits.set(replicaId, polled);
    return polled;
  }

  async stop(replicaId: string, options: { graceMs?: number } = {}): Promise<ReplicaExit> {
    const status = this.inspect(replicaId);
    if (status.exit) return status.exit;
    const graceMs = options.graceMs ?? this.store.launch(replicaId)!.graceMs;
    this.store.writeStop(replicaId, graceMs);
    const started = Date.now();
    let proc = this.store.process(replicaId);
    while (proc === null && this.store.exit(replicaId) === null && Date.now() - started < START_GRACE_MS) {
      await sleep(20); // still starting: the supervisor installs its SIGTERM handler before it reports
      proc = this.store.process(replicaId);
    }
    if (proc && isProcessAlive(proc.supervisorPid, proc.supervisorStartTicks)) {
      process.kill(proc.supervisorPid, "SIGTERM");
    }
    const ended = this.wait(replicaId);
    const backstop = setTimeout(() => this.forceKill(proc), graceMs + STOP_BACKSTOP_MS);
    try {
      return await ended;
    } finally {
      clearTimeout(backstop);
    }
  }

  logs(replicaId: string, options: LogOptions = {}): AsyncIterable<LogChunk> {
    if (this.store.launch(replicaId) === null && !fileExists(this.logFiles(replicaId).stdout)) {
      throw new NotFoundError(`no logs for replica ${replicaId}`);
    }
    return tailLogs(this.logFiles(replicaId), {
      follow: options.follow ?? false,
      from: options.from,
      pollMs: this.options.pollIntervalMs,
      signal: options.signal,
      isFinished: () => this.store.launch(replicaId) === null || this.inspect(replicaId).exit !== undefined,
    });
  }

  async reconcile(): Promise<ReplicaStatus[]> {
    const statuses: ReplicaStatus[] = [];
    for (const replicaId of this.store.ids()) {
      if (this.store.launch(replicaId) === null) {
        this.store.remove(replicaId); // created but never launched (crash between mkdir and write)
        continue;
      }
      statuses.push(this.inspect(replicaId));
    }
    return statuses;
  }

  async remove(replicaId: string): Promise<void> {
    if (this.store.launch(replicaId) === null) return;
    if (this.inspect(replicaId).exit === undefined)
      throw new ConflictError(`replica ${replicaId} is still running`);
    this.store.remove(replicaId);
    this.waits.delete(replicaId);
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const child of this.children.values()) child.unref();
  }

  /** The replica's process group id, while its record exists (operations and tests). */
  processGroupOf(replicaId: string): number | null {
    return this.store.process(replicaId)?.pgid ?? null;
  }

  /**
   * Current state from the records and /proc; a replica whose supervisor vanished is marked lost.
   * `supervisorGone`: the caller saw this process's own supervisor child end.
   */
  private inspect(replicaId: string, supervisorGone = false): ReplicaStatus {
    const launch = this.store.launch(replicaId);
    if (launch === null) throw new NotFoundError(`no replica ${replicaId}`);
    const base = {
      replicaId,
      jobId: launch.jobId,
      attempt: launch.attempt,
      replicaIndex: launch.replicaIndex,
    };
    const exit = this.store.exit(replicaId);
    const proc = this.store.process(replicaId);
    const known = proc ? { pid: proc.pid, startedAt: proc.startedAt } : {};
    if (exit) {
      const state = exit.end === "lost" ? "lost" : "exited";
      return { ...base, ...known, state, exit: toReplicaExit(replicaId, exit, launch) };
    }
    if (proc && isProcessAlive(proc.supervisorPid, proc.supervisorStartTicks)) {
      return { ...base, ...known, state: "running" };
    }
    if (!proc && !supervisorGone) {
      const child = this.children.get(replicaId);
      const starting = child
        ? child.exitCode === null && child.signalCode === null
        : this.store.launchAgeMs(replicaId, Date.now()) < START_GRACE_MS;
      if (starting) return { ...base, state: "starting" };
    }
    // The supervisor may have written its record and exited between the two reads above.
    const late = this.store.exit(replicaId);
    if (late) return { ...base, ...known, state: "exited", exit: toReplicaExit(replicaId, late, launch) };
    return { ...base, ...known, state: "lost", exit: this.markLost(replicaId, launch, proc) };
  }

  private markLost(replicaId: string, launch: LaunchRecord, proc: ProcessRecord | null): ReplicaExit {
    const killed = proc ? killProcessGroup(proc.pgid, proc.startTicks ?? undefined) : 0;
    const log = this.store.supervisorLog(replicaId);
    const message =
      "the replica's supervisor ended without recording an exit" +
      (killed > 0 ? `; killed ${killed} leftover process(es)` : "") +
      (log ? `; supervisor log: ${log}` : "");
    const now = new Date().toISOString();
    const record = {
      exitCode: null,
      signal: null,
      end: "lost" as const,
      startedAt: proc?.startedAt ?? launch.createdAt,
      endedAt: now,
      message,
    };
    this.store.writeExit(replicaId, record);
    removeReplicaCgroup(launch.cgroupDirs ?? []);
    return toReplicaExit(replicaId, record, launch);
  }

  private finalExit(replicaId: string): ReplicaExit {
    return this.inspect(replicaId, true).exit!;
  }

  private async pollUntilEnded(replicaId: string): Promise<ReplicaExit> {
    for (;;) {
      const status = this.inspect(replicaId);
      if (status.exit) return status.exit;
      await sleep(this.options.pollIntervalMs, undefined, { signal: this.closing.signal });
    }
  }

  private forceKill(proc: ProcessRecord | null): void {
    if (!proc) return;
    killProcessGroup(proc.pgid, proc.startTicks ?? undefined);
    if (isProcessAlive(proc.supervisorPid, proc.supervisorStartTicks))
      process.kill(proc.supervisorPid, "SIGKILL");
  }
}

function isDirectory(target: string): boolean {
  try {
    return statSync(target).isDirectory();
  } catch {
    return false;
  }
}

function fileExists(target: string): boolean {
  try {
    statSync(target);
    return true;
  } catch {
    return false;
  }
}
