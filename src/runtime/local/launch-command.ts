import { chownSync, lstatSync, readdirSync } from "node:fs";
import path from "node:path";
import { InputError } from "../../errors.js";
import { bubblewrapArgs, type SandboxLayout, WORKLOAD_UID, withEnvFile } from "./sandbox.js";

/**
 * The host-side command line that starts one replica, outermost first (docs/security.md):
 *
 *   [sh: join the replica's cgroups] -> [prlimit] -> bwrap (root) -> setpriv (to uid 65534) -> sh (env) -> command
 *
 * Every process before the last `sh` runs with the fixed LAUNCHER_ENV and with no user input but the
 * command's own argv; the job's environment is applied by that last shell, inside the sandbox and
 * already unprivileged. Without a sandbox (MLOPS_SANDBOX=none) the bwrap/setpriv steps are left out and
 * the workload runs as the control plane's user.
 */
export type MemoryLimitKind = "cgroup" | "rlimit-as" | "rlimit-data" | "none";

/** What of a replica shapes its command line (resolved by the runtime from the spec). */
export interface LaunchTarget {
  command: readonly string[];
  /** The job's working directory (host path, bound at the same path inside). */
  workDir: string;
  /** Device nodes to expose (non-simulated devices only). */
  gpuDeviceIndices: readonly number[];
  memoryMiB: number;
  network: "host" | "none";
  volumes?: SandboxLayout["volumes"];
  etcFiles?: SandboxLayout["etcFiles"];
}

export interface LaunchCommandInput {
  spec: LaunchTarget;
  /** bwrap's path when sandboxed, else null. */
  bwrapPath: string | null;
  /** prlimit's path when rlimits are used, else null. */
  prlimitPath: string | null;
  hiddenPaths: readonly string[];
  readOnlyPaths: readonly string[];
  /** Host path of the replica's env script. */
  envFile: string;
  /** `cgroup.procs` files to join first (empty: no cgroups). */
  cgroupProcsFiles: readonly string[];
  maxProcesses: number;
  tmpSizeBytes: number;
}

export function launchCommand(input: LaunchCommandInput): { argv: string[]; memoryLimit: MemoryLimitKind } {
  const { spec } = input;
  for (const part of spec.command) {
    if (part.includes("\0")) throw new InputError("command arguments must not contain NUL bytes");
  }
  let argv: string[];
  if (input.bwrapPath !== null) {
    const layout = {
      workDir: spec.workDir,
      gpuDeviceIndices: spec.gpuDeviceIndices,
      hiddenPaths: input.hiddenPaths,
      readOnlyPaths: input.readOnlyPaths,
      envFile: input.envFile,
      network: spec.network,
      tmpSizeBytes: input.tmpSizeBytes,
      volumes: spec.volumes,
      etcFiles: spec.etcFiles,
    };
    argv = [input.bwrapPath, ...bubblewrapArgs(layout, spec.command)];
  } else {
    argv = withEnvFile(input.envFile, spec.workDir, spec.command);
  }
  let memoryLimit: MemoryLimitKind = "none";
  if (input.cgroupProcsFiles.length > 0) {
    memoryLimit = "cgroup";
  } else if (input.prlimitPath !== null) {
    // RLIMIT_AS also counts shared mappings, so it is the one rlimit that bounds them; CUDA reserves far
    // more address space than it uses, so GPU replicas get RLIMIT_DATA (shared mmap not bounded).
    const bytes = spec.memoryMiB * 1024 * 1024;
    memoryLimit = spec.gpuDeviceIndices.length > 0 ? "rlimit-data" : "rlimit-as";
    const limit = memoryLimit === "rlimit-as" ? `--as=${bytes}` : `--data=${bytes}`;
    // RLIMIT_NPROC counts every process of the uid: all sandboxed replicas share 65534 (docs/security.md).
    argv = [input.prlimitPath, limit, `--nproc=${input.maxProcesses}`, "--", ...argv];
  }
  if (input.cgroupProcsFiles.length > 0) {
    const join =
      'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"';
    argv = [
      "/bin/sh",
      "-c",
      join,
      "mlops-cgroup",
      String(input.cgroupProcsFiles.length),
      ...input.cgroupProcsFiles,
      ...argv,
    ];
  }
  return { argv, memoryLimit };
}

/**
 * Gives the work dir to the workload uid so that the unprivileged job can write it. Symlinks are not
 * followed (lchown), and files with more than one link are left alone: a job could have hard-linked a
 * file from elsewhere on the same filesystem into its dir, and a retry must not hand that file over.
 */
export function chownWorkDir(workDir: string): void {
  const walk = (target: string) => {
    const stat = lstatSync(target);
    if (stat.isDirectory()) {
      for (const name of readdirSync(target)) walk(path.join(target, name));
    } else if (stat.nlink > 1) {
      return;
    }
    if (stat.uid !== WORKLOAD_UID || stat.gid !== WORKLOAD_UID) {
      if (stat.isSymbolicLink()) return; // its own owner does not matter: it is never followed here
      chownSync(target, WORKLOAD_UID, WORKLOAD_UID);
    }
  };
  walk(workDir);
}
