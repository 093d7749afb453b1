import path from "node:path";
import type { ReplicaSpec } from "../runtime.js";
import { type CgroupLayout, createReplicaCgroup } from "./cgroups.js";
import { launchCommand } from "./launch-command.js";
import type { ResolvedOptions } from "./local-runtime-options.js";
import type { LaunchRecord } from "./replica-state.js";
import { readProcStat } from "./proc.js";
import { LAUNCHER_ENV } from "./sandbox.js";

export interface LaunchRecordInput {
  replicaId: string;
  spec: ReplicaSpec;
  /** The job's working directory (host path). */
  workDir: string;
  /** argv with `python` resolved. */
  command: string[];
  volumes: Array<{ source: string; target: string }>;
  /** The replica's state dir (env.sh, passwd, group). */
  replicaDir: string;
  logFiles: { stdout: string; stderr: string };
  options: ResolvedOptions;
  sandboxed: boolean;
  /** prlimit is usable (used when there is no cgroup). */
  rlimits: boolean;
  cgroups: CgroupLayout | null;
}

/**
 * What the supervisor of one replica is told (replica-state.ts): the host-side command line with its
 * sandbox and limits (launch-command.ts), log files, timeout and grace, and what the runtime needs to
 * answer later (endpoints, volumes, devices). Creates the replica's cgroup when cgroups are in use.
 */
export function buildLaunchRecord(input: LaunchRecordInput): LaunchRecord {
  const { replicaId, spec } = input;
  const sandboxed = input.sandboxed;
  const files = input.logFiles;
  const replicaDir = input.replicaDir;
  const envFile = path.join(replicaDir, "env.sh");
  const { memoryMiB } = spec.resources;
  const gpuDeviceIndices = (spec.resources.devices ?? [])
    .filter((device) => !device.simulated)
    .map((device) => device.index);
  const cgroup =
    input.cgroups === null
      ? null
      : createReplicaCgroup(input.cgroups, replicaId, {
          memoryBytes: memoryMiB * 1024 * 1024,
          maxProcesses: input.options.maxProcesses,
        });
  const { argv } = launchCommand({
    spec: {
      command: input.command,
      workDir: input.workDir,
      // Simulated devices have no device node to expose.
      gpuDeviceIndices,
      memoryMiB,
      network: spec.network ?? "host",
      volumes: input.volumes,
      ...(spec.user
        ? { etcFiles: { passwd: path.join(replicaDir, "passwd"), group: path.join(replicaDir, "group") } }
        : {}),
    },
    bwrapPath: sandboxed ? input.options.bwrapPath : null,
    prlimitPath: input.rlimits && cgroup === null ? input.options.prlimitPath : null,
    hiddenPaths: [
      ...input.options.hiddenPaths,
      input.options.stateDir,
      input.options.logDir,
      input.options.jobsDir,
      input.options.volumesDir,
    ],
    readOnlyPaths: input.options.readOnlyPaths,
    envFile,
    cgroupProcsFiles: cgroup?.procsFiles ?? [],
    maxProcesses: input.options.maxProcesses,
    tmpSizeBytes: Math.min(memoryMiB, input.options.maxTmpMiB) * 1024 * 1024,
  });
  const kind = spec.kind ?? "job";
  return {
    replicaId,
    jobId: spec.jobId,
    attempt: spec.attempt,
    replicaIndex: spec.replicaIndex,
    argv,
    // The launcher's own, fixed environment: the job's is in envFile, applied inside (sandbox.ts).
    env: { ...LAUNCHER_ENV },
    // Not the job's dir: nothing host-side resolves a relative path against what the job controls.
    cwd: sandboxed ? "/" : input.workDir,
    stdoutPath: files.stdout,
    stderrPath: files.stderr,
    timeoutMs: spec.timeoutSeconds === null ? null : Math.round(spec.timeoutSeconds * 1000),
    graceMs:
      spec.graceMs ?? (kind === "workspace" ? input.options.workspaceGraceMs : input.options.defaultGraceMs),
    spareLeaderOnTerm: sandboxed,
    sandbox: sandboxed ? "bubblewrap" : "none",
    maskValues: (spec.maskInLogs ?? []).filter((value) => value.length > 0),
    cgroupDirs: cgroup?.dirs ?? [],
    envFile,
    createdAt: new Date().toISOString(),
    launcher: { pid: process.pid, startTicks: readProcStat(process.pid)?.startTicks ?? null },
    kind,
    volumes: (spec.volumes ?? []).map((volume) => volume.name),
    gpuDeviceIndices,
  };
}
