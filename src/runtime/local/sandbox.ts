import { execFile } from "node:child_process";
import { accessSync, constants, lstatSync, readlinkSync, type Stats } from "node:fs";
import path from "node:path";
import { InputError } from "../../errors.js";

/**
 * The bubblewrap sandbox of one replica: what it sees and what it does not (docs/security.md).
 *
 * - The system (/usr, /bin, /lib*, /etc, ...) read-only; symlinked top-level dirs stay symlinks.
 * - A private, size-limited /tmp and /dev/shm (tmpfs), a fresh /proc for its own pid namespace, a
 *   minimal /dev.
 * - Its own work dir read-write, at the same path as outside (paths in logs and configs stay true).
 * - Only its assigned GPUs: /dev/nvidia<N> for each assigned index plus the control nodes, when present.
 * - Hidden paths (the platform's data dir, other jobs' dirs, the runtime's logs and state) are never bound;
 *   where one lies under a bound path, it is covered with an empty tmpfs (a file with /dev/null).
 * - The host network (workloads reach the control-plane API over loopback), or none (`--unshare-net`).
 * - The workload runs as an unprivileged uid (65534, "nobody") with no capabilities and no_new_privs:
 *   bubblewrap itself runs as root (so that it can bind the root-only job dir) keeping only
 *   CAP_SETUID/CAP_SETGID, which `setpriv` spends at once to drop to that uid before anything of the
 *   job runs. A user namespace would not do: bubblewrap run by root maps the sandbox uid to host root.
 * - The job's environment never reaches a host-side process: bubblewrap and setpriv get a fixed one;
 *   the job's own is a shell script bound read-only at ENV_FILE_IN_SANDBOX and applied by `/bin/sh`
 *   (already unprivileged) right before it execs the command.
 *
 * `--die-with-parent` ties the sandbox to its *supervisor* (see supervisor-script.ts), not to the control
 * plane: the supervisor runs detached, so a control-plane crash leaves the job running and reconcilable,
 * while a supervisor that is killed takes its sandbox with it, so no job runs without someone to record
 * its end. With `--unshare-pid`, the sandbox's init exits when the job's main process does, and the
 * kernel then kills every process left in the namespace — even ones that left the process group.
 */
export interface SandboxLayout {
  workDir: string;
  gpuDeviceIndices: readonly number[];
  /** Paths that must not be visible inside, e.g. the data dir and the jobs root. */
  hiddenPaths: readonly string[];
  /** Extra read-only binds, e.g. a Python virtualenv under /opt. */
  readOnlyPaths: readonly string[];
  /** Host path of the job's environment script (see `envScript`). */
  envFile: string;
  network: "host" | "none";
  /** Size of the private /tmp and of /dev/shm, each. */
  tmpSizeBytes: number;
  /** Persistent volumes bound read-write (host dir -> mount path inside). */
  volumes?: ReadonlyArray<{ source: string; target: string }>;
  /** Generated /etc/passwd and /etc/group (host paths) presenting the workload uid as a login user. */
  etcFiles?: { passwd: string; group: string };
}

export const SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
/** The unprivileged uid and gid workloads run as. */
export const WORKLOAD_UID = 65534;
export const ENV_FILE_IN_SANDBOX = "/run/mlops/env.sh";
/** The only environment bubblewrap, setpriv and the env-applying shell get. */
export const LAUNCHER_ENV: Readonly<Record<string, string>> = {
  PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
};
const GPU_CONTROL_NODES = [
  "/dev/nvidiactl",
  "/dev/nvidia-uvm",
  "/dev/nvidia-uvm-tools",
  "/dev/nvidia-modeset",
];

export function bubblewrapArgs(layout: SandboxLayout, command: readonly string[]): string[] {
  const args = [
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-cgroup-try",
    ...(layout.network === "none" ? ["--unshare-net"] : []),
    "--die-with-parent",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "CAP_SETUID",
    "--cap-add",
    "CAP_SETGID",
    "--clearenv",
  ];
  for (const [name, value] of Object.entries(LAUNCHER_ENV)) args.push("--setenv", name, value);
  const bound: string[] = [];
  for (const systemPath of SYSTEM_PATHS) {
    const stat = lstatOrNull(systemPath);
    if (stat?.isSymbolicLink()) args.push("--symlink", readlinkSync(systemPath), systemPath);
    else if (stat?.isDirectory()) {
      args.push("--ro-bind", systemPath, systemPath);
      bound.push(systemPath);
    }
  }
  // /tmp before the extra binds: one of them may lie under /tmp and must not be covered by the tmpfs.
  const size = String(Math.max(1024 * 1024, Math.floor(layout.tmpSizeBytes)));
  args.push("--proc", "/proc", "--dev", "/dev");
  args.push("--perms", "1777", "--size", size, "--tmpfs", "/tmp");
  args.push("--perms", "1777", "--size", size, "--tmpfs", "/dev/shm");
  const workDir = path.resolve(layout.workDir);
  // Directories bubblewrap creates on the way to a bind are root-only (0700): the unprivileged workload
  // could not reach its own dir by its absolute path (MLOPS_OUTPUT_DIR), nor a read-only path.
  const volumes = layout.volumes ?? [];
  const destinations = [
    ...layout.readOnlyPaths.map((extra) => path.resolve(extra)),
    workDir,
    ...volumes.map((volume) => volume.target),
  ];
  for (const ancestor of new Set(destinations.flatMap(ancestorsOf)))
    args.push("--perms", "0755", "--dir", ancestor);
  for (const extra of layout.readOnlyPaths) {
    const resolved = path.resolve(extra);
    args.push("--ro-bind-try", resolved, resolved);
    bound.push(resolved);
  }
  const hidden = layout.hiddenPaths.map((hiddenPath) => path.resolve(hiddenPath));
  // Masks first (one may be an ancestor of the work dir, which is then bound on top of it), then the work
  // dir, then the masks inside the work dir again so that the bind does not uncover them.
  const masks = hidden.filter((hiddenPath) => bound.some((root) => isWithin(hiddenPath, root)));
  for (const mask of masks) pushMask(args, mask);
  // A mask may cover an ancestor of the work dir: recreate the way through it.
  for (const ancestor of ancestorsOf(workDir).filter((dir) => masks.some((mask) => isWithin(dir, mask))))
    args.push("--perms", "0755", "--dir", ancestor);
  args.push("--bind", workDir, workDir);
  for (const mask of hidden.filter((hiddenPath) => isWithin(hiddenPath, workDir) && hiddenPath !== workDir)) {
    pushMask(args, mask);
  }
  for (const volume of volumes) args.push("--bind", volume.source, volume.target);
  if (layout.etcFiles) {
    args.push("--ro-bind", layout.etcFiles.passwd, "/etc/passwd");
    args.push("--ro-bind", layout.etcFiles.group, "/etc/group");
  }
  for (const index of layout.gpuDeviceIndices)
    args.push("--dev-bind-try", `/dev/nvidia${index}`, `/dev/nvidia${index}`);
  if (layout.gpuDeviceIndices.length > 0) {
    for (const node of GPU_CONTROL_NODES) args.push("--dev-bind-try", node, node);
  }
  args.push("--perms", "0755", "--dir", path.dirname(ENV_FILE_IN_SANDBOX));
  args.push("--ro-bind", layout.envFile, ENV_FILE_IN_SANDBOX);
  // No --chdir: bubblewrap keeps no capability to enter the job's own 0700 dir; the unprivileged shell does.
  args.push("--", ...dropPrivileges(), ...withEnvFile(ENV_FILE_IN_SANDBOX, workDir, command));
  return args;
}

/** setpriv: to the workload uid, no supplementary groups, no capabilities, no privilege gain on exec. */
export function dropPrivileges(): string[] {
  const id = String(WORKLOAD_UID);
  return [
    "/usr/bin/setpriv",
    `--reuid=${id}`,
    `--regid=${id}`,
    "--clear-groups",
    "--inh-caps=-all",
    "--no-new-privs",
    "--",
  ];
}

/**
 * `/bin/sh` enters the work dir, sources the env script (the job's env is set only now, after every
 * privileged step), then execs the command.
 */
export function withEnvFile(envFile: string, workDir: string, command: readonly string[]): string[] {
  const script = 'cd "$2" && . "$1" && shift 2 && exec "$@"';
  return ["/bin/sh", "-c", script, "mlops-env", envFile, workDir, ...command];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The job's environment as a POSIX shell script of `export NAME='value'` lines. Values are single-quoted
 * (a quote becomes '\''), so nothing in them is expanded or executed; names must be plain identifiers and
 * no value may hold a NUL byte (it could not be in an environment anyway).
 */
export function envScript(env: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) throw new InputError(`environment variable name '${name}' is not allowed`);
    if (value.includes("\0")) throw new InputError(`environment variable ${name} contains a NUL byte`);
    lines.push(`export ${name}='${value.replaceAll("'", "'\\''")}'`);
  }
  return `${lines.join("\n")}\n`;
}

function ancestorsOf(target: string): string[] {
  const chain: string[] = [];
  for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) chain.unshift(dir);
  return chain;
}

function pushMask(args: string[], target: string): void {
  const stat = lstatOrNull(target);
  if (stat === null) return;
  if (stat.isDirectory()) args.push("--tmpfs", target);
  else args.push("--ro-bind", "/dev/null", target);
}

function lstatOrNull(target: string): Stats | null {
  try {
    return lstatSync(target);
  } catch {
    return null;
  }
}

export function isWithin(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

export type Availability = { available: true } | { available: false; reason: string };

/**
 * Whether bubblewrap runs here with everything a replica's sandbox uses — namespaces, capability drop,
 * size-limited tmpfs, the drop to the workload uid with setpriv (it can be installed yet refused, e.g. in
 * Docker, or too old for `--size`).
 */
export async function probeBubblewrap(bwrapPath: string): Promise<Availability> {
  try {
    accessSync(bwrapPath, constants.X_OK);
  } catch {
    return { available: false, reason: `${bwrapPath} not found or not executable` };
  }
  const setpriv = dropPrivileges()[0];
  if (!probeExecutable(setpriv).available) return { available: false, reason: `${setpriv} not found` };
  const args = ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--cap-drop", "ALL"];
  args.push("--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--clearenv", "--ro-bind", "/", "/");
  args.push("--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp");
  args.push("--", ...dropPrivileges(), "/bin/sh", "-c", `test "$(id -u)" = ${WORKLOAD_UID}`);
  return new Promise((resolve) => {
    execFile(bwrapPath, args, { timeout: 10_000, env: LAUNCHER_ENV }, (error, _stdout, stderr) => {
      if (!error) resolve({ available: true });
      else resolve({ available: false, reason: `${bwrapPath} failed: ${stderr.trim() || error.message}` });
    });
  });
}

/** The first executable `name` on a PATH-style list; else `name` itself (which the probe then refuses). */
export function findOnPath(name: string, searchPath: string): string {
  for (const dir of searchPath.split(":")) {
    if (!path.isAbsolute(dir)) continue; // a relative entry would resolve against the cwd
    const candidate = path.join(dir, name);
    if (probeExecutable(candidate).available) return candidate;
  }
  return `${name} (not on PATH ${searchPath})`;
}

export function probeExecutable(file: string): Availability {
  try {
    accessSync(file, constants.X_OK);
    return { available: true };
  } catch {
    return { available: false, reason: `${file} not found or not executable` };
  }
}
