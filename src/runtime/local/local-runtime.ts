import type { ChildProcess } from "node:child_process";
import { createReadStream, mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { ConflictError, InputError, NotFoundError, UnprocessableError } from "../../errors.js";
import {
  type Endpoint,
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
import { tailLogs } from "../log-files.js";
import { isProcessAlive, killProcessGroup } from "./proc.js";
import { type LaunchRecord, type ProcessRecord, ReplicaStateStore, toReplicaExit } from "./replica-state.js";
import { type CgroupLayout, detectCgroups, removeReplicaCgroup } from "./cgroups.js";
import { chownWorkDir } from "./launch-command.js";
import { type Availability, envScript, probeBubblewrap, probeExecutable } from "./sandbox.js";
import { installSupervisorScript, spawnSupervisor } from "./supervisor-process.js";
import { buildLaunchRecord } from "./launch-record.js";
import { type LocalRuntimeOptions, type ResolvedOptions, resolveOptions } from "./local-runtime-options.js";
import { loginUserFiles } from "./login-user.js";
import { PortReservations } from "./port-reservations.js";
import { checkGang, checkSpec, replicaEnv, resolvePython } from "./replica-setup.js";
import { type CpuSample, cpuCores, sampleGpus, sampleProcesses } from "./usage.js";
import { Volumes } from "./volumes.js";
import { WorkDirs } from "./work-dirs.js";

/** How long the first usage() call of a replica measures CPU over. */
const FIRST_SAMPLE_MS = 250;
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
 *
 * It owns what the contract gives runtimes (docs/architecture/runtime-contract.md): the jobs' working
 * directories (work-dirs.ts), `python`, the device and rendezvous environment (replica-setup.ts), ports,
 * volumes and login users for workspaces, and usage samples from /proc (usage.ts).
 */
export type { LocalRuntimeOptions } from "./local-runtime-options.js";

export class LocalRuntime implements Runtime {
  private readonly store: ReplicaStateStore;
  private readonly workDirs: WorkDirs;
  private readonly volumes: Volumes;
  private readonly ports = new PortReservations();
  private readonly waits = new Map<string, Promise<ReplicaExit>>();
  private readonly children = new Map<string, ChildProcess>();
  private readonly cpuSamples = new Map<string, CpuSample>();
  private readonly closing = new AbortController();

  private constructor(
    private readonly options: ResolvedOptions,
    artifacts: ArtifactStore | undefined,
    private readonly sandboxMode: "bubblewrap" | "none",
    private readonly sandbox: Availability,
    private readonly memoryLimit: Availability,
    private readonly cgroups: CgroupLayout | null,
    private readonly supervisorPath: string,
  ) {
    this.store = new ReplicaStateStore(options.stateDir);
    this.workDirs = new WorkDirs({ root: options.jobsDir, artifacts });
    this.volumes = new Volumes(options.volumesDir);
    // Ports of replicas an earlier control plane started stay taken while those run.
    for (const replicaId of this.store.ids()) {
      const launch = this.store.launch(replicaId);
      if (launch?.heldPorts && this.store.exit(replicaId) === null)
        this.ports.hold(replicaId, launch.heldPorts);
    }
  }

  static async create(options: LocalRuntimeOptions): Promise<LocalRuntime> {
    const resolved = resolveOptions(options);
    mkdirSync(resolved.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(resolved.logDir, { recursive: true, mode: 0o700 });
    mkdirSync(resolved.jobsDir, { recursive: true, mode: 0o700 });
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
    return new LocalRuntime(
      resolved,
      options.artifacts,
      mode,
      sandbox,
      memoryLimit,
      cgroups.layout,
      supervisorPath,
    );
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
      placement: "platform",
    };
  }

  /** The replica's two log files (written by its supervisor). */
  private logFiles(replicaId: string): { stdout: string; stderr: string } {
    const base = path.join(this.options.logDir, replicaId);
    return { stdout: `${base}.stdout.log`, stderr: `${base}.stderr.log` };
  }

  async start(spec: ReplicaSpec): Promise<ReplicaHandle> {
    checkSpec(spec, this.sandbox.available);
    if (spec.rank && spec.rank.worldSize > 1) {
      throw new InputError("replicas of a distributed gang start together: use startGang");
    }
    this.ensureSandbox();
    const master = spec.rank ? await this.reserveRendezvous(spec) : undefined;
    try {
      const handle = await this.launch(spec, master);
      if (master) void handle.exited.finally(() => this.ports.release(gangOwner(spec)));
      return handle;
    } catch (err) {
      if (master) this.ports.release(gangOwner(spec));
      throw err;
    }
  }

  async startGang(specs: readonly ReplicaSpec[]): Promise<ReplicaHandle[]> {
    const problems = gangProblems(specs);
    if (problems.length > 0) throw new InputError(`invalid gang: ${problems.join("; ")}`);
    for (const spec of specs) checkSpec(spec, this.sandbox.available);
    checkGang(specs);
    this.ensureSandbox();
    const ordered = [...specs].sort((a, b) => a.replicaIndex - b.replicaIndex);
    // Once for the whole gang: every rank shares the job's directory.
    await this.workDirs.prepare(ordered[0].jobId, ordered[0].codeDigest);
    const master = ordered.some((spec) => spec.rank) ? await this.reserveRendezvous(ordered[0]) : undefined;
    const handles: ReplicaHandle[] = [];
    try {
      for (const spec of ordered) handles.push(await this.launch(spec, master));
    } catch (err) {
      await Promise.allSettled(handles.map((handle) => this.stop(handle.replicaId, { graceMs: 0 })));
      await Promise.allSettled(handles.map((handle) => this.remove(handle.replicaId)));
      if (master) this.ports.release(gangOwner(ordered[0]));
      throw err;
    }
    if (master) {
      void Promise.allSettled(handles.map((handle) => handle.exited)).then(() =>
        this.ports.release(gangOwner(ordered[0])),
      );
    }
    return handles;
  }

  private ensureSandbox(): void {
    if (this.sandboxMode === "bubblewrap" && !this.sandbox.available) {
      throw new UnprocessableError(
        `job execution is disabled: no working sandbox (${this.sandbox.reason}); set MLOPS_SANDBOX=none to run jobs without isolation`,
      );
    }
  }

  private async reserveRendezvous(spec: ReplicaSpec): Promise<Endpoint> {
    return { host: "127.0.0.1", port: await this.ports.reserve(gangOwner(spec), "127.0.0.1") };
  }

  /** Starts one checked replica: its dir, ports, volumes, env and supervisor. */
  private async launch(spec: ReplicaSpec, master: Endpoint | undefined): Promise<ReplicaHandle> {
    const replicaId = replicaIdOf(spec);
    if (this.store.launch(replicaId) !== null)
      throw new ConflictError(`replica ${replicaId} was already started`);
    const { workDir, outputDir } = await this.workDirs.prepare(spec.jobId, spec.codeDigest);
    const ports: Record<string, number> = {};
    const endpoints: Record<string, Endpoint> = {};
    try {
      for (const { name } of spec.ports ?? []) {
        ports[name] = await this.ports.reserve(replicaId, "0.0.0.0");
        endpoints[name] = { host: this.options.endpointHost, port: ports[name] };
      }
      // Looked up only when needed: the first lookup imports torch (seconds).
      const wantsPython = spec.command[0] === "python" || spec.command[0] === "python3";
      const python = resolvePython(
        spec.command,
        wantsPython ? ((await this.options.python?.()) ?? null) : null,
      );
      const env = envScript(
        replicaEnv(spec, { workDir, outputDir, sdkPythonDir: this.options.sdkPythonDir, master, ports }),
      );
      if (this.sandbox.available) chownWorkDir(workDir);
      const volumes = (spec.volumes ?? []).map((volume) => ({
        source: this.volumes.ensure(volume.name, this.sandbox.available),
        target: volume.mountPath,
      }));
      const launch = this.launchRecord(replicaId, spec, { workDir, command: python, volumes });
      launch.endpoints = endpoints;
      launch.heldPorts = [
        ...Object.values(ports),
        ...(master && spec.replicaIndex === 0 ? [master.port] : []),
      ];
      this.store.create(launch);
      writeFileSync(launch.envFile!, env, { mode: 0o644 });
      if (spec.user) {
        const files = loginUserFiles(spec.user);
        writeFileSync(path.join(this.store.dir(replicaId), "passwd"), files.passwd, { mode: 0o644 });
        writeFileSync(path.join(this.store.dir(replicaId), "group"), files.group, { mode: 0o644 });
      }
      return await this.spawn(replicaId, launch, endpoints);
    } catch (err) {
      this.ports.release(replicaId);
      throw err;
    }
  }

  private async spawn(
    replicaId: string,
    launch: LaunchRecord,
    endpoints: Record<string, Endpoint>,
  ): Promise<ReplicaHandle> {
    const supervisor = spawnSupervisor(this.options.nodePath, this.supervisorPath, this.store.dir(replicaId));
    this.children.set(replicaId, supervisor.child);
    const exited = supervisor.closed.then(() => {
      this.children.delete(replicaId);
      this.ports.release(replicaId);
      this.cpuSamples.delete(replicaId);
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
      node: "local",
      startedAt: this.store.process(replicaId)?.startedAt ?? launch.createdAt,
      ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
      exited,
    };
  }

  private launchRecord(
    replicaId: string,
    spec: ReplicaSpec,
    resolved: { workDir: string; command: string[]; volumes: Array<{ source: string; target: string }> },
  ): LaunchRecord {
    return buildLaunchRecord({
      replicaId,
      spec,
      ...resolved,
      replicaDir: this.store.dir(replicaId),
      logFiles: this.logFiles(replicaId),
      options: this.options,
      sandboxed: this.sandbox.available,
      rlimits: this.memoryLimit.available,
      cgroups: this.cgroups,
    });
  }

  wait(replicaId: string): Promise<ReplicaExit> {
    const known = this.waits.get(replicaId);
    if (known) return known;
    if (this.store.launch(replicaId) === null)
      return Promise.reject(new NotFoundError(`no replica ${replicaId}`));
    const polled = this.pollUntilEnded(replicaId);
    // Ports held since a restart (constructor) are free again once the replica has ended.
    void polled.then(
      () => this.ports.release(replicaId),
      () => undefined,
    );
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
    // inspect(): a launch abandoned by a control plane that is gone is settled at once (never started).
    while (
      proc === null &&
      this.inspect(replicaId).exit === undefined &&
      Date.now() - started < START_GRACE_MS
    ) {
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

  async logArchive(replicaId: string): Promise<{ stdout: Readable; stderr: Readable }> {
    const files = this.logFiles(replicaId);
    if (this.store.launch(replicaId) === null && !fileExists(files.stdout) && !fileExists(files.stderr)) {
      throw new NotFoundError(`no logs for replica ${replicaId}`);
    }
    const open = (file: string) => (fileExists(file) ? createReadStream(file) : Readable.from([]));
    return { stdout: open(files.stdout), stderr: open(files.stderr) };
  }

  async usage(replicaId: string): Promise<ReplicaUsage | null> {
    const launch = this.store.launch(replicaId);
    if (launch === null) throw new NotFoundError(`no replica ${replicaId}`);
    const proc = this.store.process(replicaId);
    if (this.inspect(replicaId).state !== "running" || proc === null) return null;
    let before = this.cpuSamples.get(replicaId);
    if (before === undefined) {
      before = sampleProcesses(proc.pgid).cpu;
      await sleep(FIRST_SAMPLE_MS);
    }
    const sample = sampleProcesses(proc.pgid);
    this.cpuSamples.set(replicaId, sample.cpu);
    const devices = launch.gpuDeviceIndices ?? [];
    const gpus =
      devices.length > 0 && probeExecutable(this.options.nvidiaSmiPath).available
        ? await sampleGpus(this.options.nvidiaSmiPath, devices, sample.pids)
        : undefined;
    return {
      cpuCores: cpuCores(before, sample.cpu),
      memoryBytes: sample.memoryBytes,
      ...(gpus ? { gpus } : {}),
      sampledAt: new Date(sample.cpu.at).toISOString(),
    };
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

  async removeJobFiles(jobId: string): Promise<void> {
    const running = this.runningReplicas().filter((launch) => launch.jobId === jobId);
    if (running.length > 0) {
      throw new ConflictError(
        `job ${jobId} still has running replicas: ${running.map((r) => r.replicaId).join(", ")}`,
      );
    }
    await this.workDirs.remove(jobId);
  }

  async deleteVolume(name: string): Promise<void> {
    this.volumes.pathOf(name); // validates the name
    const users = this.runningReplicas().filter((launch) => launch.volumes?.includes(name));
    if (users.length > 0) {
      throw new ConflictError(
        `volume ${name} is in use by ${users.map((launch) => launch.replicaId).join(", ")}`,
      );
    }
    await this.volumes.remove(name);
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const child of this.children.values()) child.unref();
  }

  /** The replica's process group id, while its record exists (operations and tests). */
  processGroupOf(replicaId: string): number | null {
    return this.store.process(replicaId)?.pgid ?? null;
  }

  private runningReplicas(): LaunchRecord[] {
    const running: LaunchRecord[] = [];
    for (const replicaId of this.store.ids()) {
      const launch = this.store.launch(replicaId);
      if (launch !== null && this.inspect(replicaId).exit === undefined) running.push(launch);
    }
    return running;
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
    const known = {
      node: "local",
      ...(proc ? { pid: proc.pid, startedAt: proc.startedAt } : {}),
      ...(launch.endpoints && Object.keys(launch.endpoints).length > 0
        ? { endpoints: launch.endpoints }
        : {}),
    };
    if (exit) {
      const state = exit.end === "lost" ? "lost" : "exited";
      return { ...base, ...known, state, exit: toReplicaExit(replicaId, exit, launch) };
    }
    if (proc && isProcessAlive(proc.supervisorPid, proc.supervisorStartTicks)) {
      return { ...base, ...known, state: "running" };
    }
    if (!proc && !supervisorGone) {
      const child = this.children.get(replicaId);
      if (child) {
        if (child.exitCode === null && child.signalCode === null)
          return { ...base, ...known, state: "starting" };
      } else {
        // Launched by another control-plane process (an earlier one, or a peer during a lease handover).
        const young = this.store.launchAgeMs(replicaId, Date.now()) < START_GRACE_MS;
        const launcher = launch.launcher;
        const launcherAlive = launcher ? isProcessAlive(launcher.pid, launcher.startTicks) : young;
        if (launcherAlive && young) return { ...base, ...known, state: "starting" };
        // Its launcher is gone (or stuck): take the claim so that no supervisor can still start it.
        if (this.store.claim(replicaId, `abandoned: found by control-plane process ${process.pid}`)) {
          const exit = this.markNeverStarted(replicaId, launch);
          return { ...base, ...known, state: "lost", exit };
        }
        // A supervisor holds the claim: it is starting the workload now.
        if (young) return { ...base, ...known, state: "starting" };
      }
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

  private markNeverStarted(replicaId: string, launch: LaunchRecord): ReplicaExit {
    const now = new Date().toISOString();
    const record = {
      exitCode: null,
      signal: null,
      end: "lost" as const,
      startedAt: launch.createdAt,
      endedAt: now,
      message: "never started: the control plane that launched it ended before its supervisor ran",
      neverStarted: true,
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

/** The rendezvous port belongs to the gang (job and attempt), not to one rank. */
function gangOwner(spec: Pick<ReplicaSpec, "jobId" | "attempt">): string {
  return `gang:${spec.jobId}.a${spec.attempt}`;
}

function fileExists(target: string): boolean {
  try {
    statSync(target);
    return true;
  } catch {
    return false;
  }
}
