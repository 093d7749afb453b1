import { chownSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ReplicaEnd } from "../runtime.js";

/**
 * The shared work dir's layout (docs/architecture/slurm.md). Every node sees it at the same path.
 *   state/<replicaId>.json        control plane only (0700): launch record, Slurm job id, synthesized ends
 *   runs/<replicaId>/task.json    what the rank wrapper runs (argv, env incl. the job token: 0600, job user)
 *   runs/<replicaId>/started.json / exit.json   written by the wrapper; stop.json written by the runtime
 *   logs/<replicaId>.stdout.log / .stderr.log   the rank's output (kept after remove(), like local logs)
 *   jobs/<jobId>/                 the job's working dir: code unpacked once, mlops-output/, shared by ranks
 *   gangs/<replicaId of rank 0>/  batch script and its output
 *   bin/, sdk/                    the rank wrapper and the Python SDK, installed by the control plane
 */
export interface LaunchRecord {
  replicaId: string;
  jobId: string;
  attempt: number;
  replicaIndex: number;
  /** Replica ids of the whole allocation (srun task order). */
  gang: string[];
  slurmJobId: string | null;
  graceMs: number;
  createdAt: string;
  /** Set by stop(): an end without exit record is then "stopped", not "lost". */
  stopRequestedAt?: string;
  /** An end the runtime determined itself (the wrapper left no record). */
  exit?: ExitRecord;
}

export interface ExitRecord {
  exitCode: number | null;
  signal: string | null;
  end: ReplicaEnd;
  startedAt: string;
  endedAt: string;
  node?: string;
  message?: string;
  /** The wrapper saw SIGTERM from Slurm without a stop request (scancel, time limit, preemption). */
  slurmTerminated?: boolean;
}

export interface StartedRecord {
  startedAt: string;
  node: string;
  pid: number;
}

export class SlurmFiles {
  constructor(readonly root: string) {}

  get stateDir(): string {
    return path.join(this.root, "state");
  }
  get runsDir(): string {
    return path.join(this.root, "runs");
  }
  get wrapperPath(): string {
    return path.join(this.root, "bin", "mlops-rank-wrapper.py");
  }
  get sdkDir(): string {
    return path.join(this.root, "sdk");
  }
  runDir(replicaId: string): string {
    return path.join(this.runsDir, replicaId);
  }
  jobDir(jobId: string): string {
    return path.join(this.root, "jobs", jobId);
  }
  gangDir(firstReplicaId: string): string {
    return path.join(this.root, "gangs", firstReplicaId);
  }
  volumeDir(name: string): string {
    return path.join(this.root, "volumes", name);
  }
  logFiles(replicaId: string): { stdout: string; stderr: string } {
    const base = path.join(this.root, "logs", replicaId);
    return { stdout: `${base}.stdout.log`, stderr: `${base}.stderr.log` };
  }

  /** Creates the fixed directories; `owner` (the job user) may write runs/ and logs/ entries made for it. */
  init(): void {
    mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    for (const sub of ["runs", "logs", "jobs", "gangs", "bin", "volumes"]) {
      mkdirSync(path.join(this.root, sub), { recursive: true, mode: 0o755 });
    }
  }

  /** A directory or file the job user must own (its run dir, log files, working dir). */
  giveTo(target: string, owner: { uid: number; gid: number } | undefined): void {
    if (owner) chownSync(target, owner.uid, owner.gid);
  }

  readLaunch(replicaId: string): LaunchRecord | null {
    return readJson<LaunchRecord>(path.join(this.stateDir, `${replicaId}.json`));
  }

  writeLaunch(record: LaunchRecord): void {
    writeJsonAtomic(path.join(this.stateDir, `${record.replicaId}.json`), record, 0o600);
  }

  replicaIds(): string[] {
    return readdirSync(this.stateDir)
      .filter((name) => name.endsWith(".json"))
      .map((name) => name.slice(0, -".json".length));
  }

  started(replicaId: string): StartedRecord | null {
    return readJson<StartedRecord>(path.join(this.runDir(replicaId), "started.json"));
  }

  exit(replicaId: string): ExitRecord | null {
    return readJson<ExitRecord>(path.join(this.runDir(replicaId), "exit.json"));
  }

  stopRequested(replicaId: string): boolean {
    return readJson(path.join(this.runDir(replicaId), "stop.json")) !== null;
  }

  writeStop(replicaId: string, graceMs: number): void {
    writeJsonAtomic(path.join(this.runDir(replicaId), "stop.json"), { graceMs }, 0o644);
  }

  remove(replicaId: string): void {
    rmSync(this.runDir(replicaId), { recursive: true, force: true });
    rmSync(path.join(this.stateDir, `${replicaId}.json`), { force: true });
  }
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return null; // absent, or being replaced (writers rename complete files into place)
  }
}

export function writeJsonAtomic(file: string, value: unknown, mode: number): void {
  const partial = `${file}.partial`;
  writeFileSync(partial, JSON.stringify(value), { mode });
  renameSync(partial, file);
}
