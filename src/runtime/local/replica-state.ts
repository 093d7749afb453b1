import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import { ConflictError } from "../../errors.js";
import type { Endpoint, ReplicaEnd, ReplicaExit, WorkloadKind } from "../runtime.js";

/**
 * The local runtime's per-replica records on disk, `<stateDir>/replicas/<replicaId>/`:
 * - launch.json  written by the runtime before the supervisor starts (mode 0600: it holds the values
 *                masked in logs), naming the control-plane process that launches it;
 * - claim        created exclusively (O_EXCL) by whoever decides the launch's fate first: the supervisor
 *                as it starts, or a later control plane that found the launcher gone before any
 *                supervisor ran (the launch is then abandoned, and a supervisor started late exits);
 * - env.sh       the job's environment script, bound read-only into the sandbox (see sandbox.ts);
 * - passwd, group the login user's account files, when the spec has `user` (see login-user.ts);
 * - process.json written by the supervisor once the workload runs (pids and /proc start times);
 * - stop.json    written by the runtime before it asks the supervisor to stop the replica;
 * - exit.json    written by the supervisor when the workload has ended (or by a runtime that found the
 *                replica lost), so any later control plane knows how it ended;
 * - supervisor.log the supervisor's own stderr (its crashes, not the workload's output).
 */
export interface LaunchRecord {
  replicaId: string;
  jobId: string;
  attempt: number;
  replicaIndex: number;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  timeoutMs: number | null;
  graceMs: number;
  /** The leader is bubblewrap's outer process (see supervisor-script.ts). */
  spareLeaderOnTerm: boolean;
  sandbox: "bubblewrap" | "none";
  /** Written as "***" in the log files (the supervisor pipes the output when there are any). */
  maskValues?: string[];
  /** The replica's cgroup directories, removed by the supervisor when it has ended. */
  cgroupDirs?: string[];
  /** The job's env script (holds its token), removed when the replica has ended. */
  envFile?: string;
  createdAt: string;
  /** The control-plane process writing this record (pid and /proc start time): while it lives, a
   * replica without a supervisor yet may still get one. Absent in records of older versions. */
  launcher?: { pid: number; startTicks: number | null };
  kind?: WorkloadKind;
  /** Where the replica's ports are reachable (returned by reconcile after a restart). */
  endpoints?: Record<string, Endpoint>;
  /** TCP ports the replica holds (its endpoints and, for rank 0..n, the rendezvous port). */
  heldPorts?: number[];
  /** Names of the persistent volumes it mounts (deleteVolume refuses while it runs). */
  volumes?: string[];
  /** Indices of the real (not simulated) GPUs it sees, for usage sampling. */
  gpuDeviceIndices?: number[];
}

export interface ProcessRecord {
  supervisorPid: number;
  supervisorStartTicks: number | null;
  pid: number;
  pgid: number;
  startTicks: number | null;
  startedAt: string;
}

export interface ExitRecord {
  exitCode: number | null;
  signal: string | null;
  end: ReplicaEnd;
  startedAt: string;
  endedAt: string;
  message?: string;
  /** The launch was abandoned before any supervisor ran it (see `claim`). */
  neverStarted?: boolean;
}

export class ReplicaStateStore {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = path.join(stateDir, "replicas");
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
  }

  dir(replicaId: string): string {
    return path.join(this.root, replicaId);
  }

  /** Creates the replica's record; a replica id is started once. */
  create(launch: LaunchRecord): void {
    try {
      mkdirSync(this.dir(launch.replicaId), { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new ConflictError(`replica ${launch.replicaId} was already started`);
      }
      throw error;
    }
    this.write(launch.replicaId, "launch.json", launch);
  }

  ids(): string[] {
    return readdirSync(this.root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  }

  launch(replicaId: string): LaunchRecord | null {
    return this.read<LaunchRecord>(replicaId, "launch.json");
  }

  process(replicaId: string): ProcessRecord | null {
    return this.read<ProcessRecord>(replicaId, "process.json");
  }

  exit(replicaId: string): ExitRecord | null {
    return this.read<ExitRecord>(replicaId, "exit.json");
  }

  /** How long ago the launch record was written (for a supervisor that never reported). */
  launchAgeMs(replicaId: string, now: number): number {
    try {
      return now - statSync(path.join(this.dir(replicaId), "launch.json")).mtimeMs;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  supervisorLog(replicaId: string): string {
    try {
      return readFileSync(path.join(this.dir(replicaId), "supervisor.log"), "utf8")
        .trim()
        .slice(-2000);
    } catch {
      return "";
    }
  }

  /**
   * Takes the replica's one-time claim (see the file list above); false when someone already holds it.
   * The supervisor script takes the same file with the same exclusive create.
   */
  claim(replicaId: string, by: string): boolean {
    try {
      writeFileSync(path.join(this.dir(replicaId), "claim"), by, { flag: "wx", mode: 0o600 });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  }

  writeStop(replicaId: string, graceMs: number): void {
    this.write(replicaId, "stop.json", { graceMs, requestedAt: new Date().toISOString() });
  }

  writeExit(replicaId: string, record: ExitRecord): void {
    this.write(replicaId, "exit.json", record);
  }

  remove(replicaId: string): void {
    rmSync(this.dir(replicaId), { recursive: true, force: true });
  }

  private write(replicaId: string, name: string, value: unknown): void {
    const file = path.join(this.dir(replicaId), name);
    writeFileSync(`${file}.tmp`, JSON.stringify(value), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  private read<T>(replicaId: string, name: string): T | null {
    let text: string;
    try {
      text = readFileSync(path.join(this.dir(replicaId), name), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name] as [number, string]),
);

/**
 * The exit as the rest of the platform sees it. Under bubblewrap the leader is bubblewrap, which reports
 * a workload killed by signal N as exit status 128+N (as a shell does); that is turned back into the
 * signal. The price: a workload that itself exits with 129..159 is reported as killed by that signal.
 */
export function toReplicaExit(
  replicaId: string,
  record: ExitRecord,
  launch: LaunchRecord | null,
): ReplicaExit {
  let { exitCode, signal } = record;
  if (
    launch?.sandbox === "bubblewrap" &&
    exitCode !== null &&
    exitCode > 128 &&
    SIGNAL_NAMES.has(exitCode - 128)
  ) {
    signal = SIGNAL_NAMES.get(exitCode - 128)!;
    exitCode = null;
  }
  return {
    replicaId,
    end: record.end,
    exitCode,
    signal,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    durationMs: Math.max(0, Date.parse(record.endedAt) - Date.parse(record.startedAt)),
    ...(record.message ? { message: record.message } : {}),
    ...(record.neverStarted ? { neverStarted: true } : {}),
  };
}
