import { execFile } from "node:child_process";
import { accessSync, constants, lstatSync, readlinkSync, type Stats } from "node:fs";
import path from "node:path";

/**
 * The bubblewrap sandbox of one replica: what it sees and what it does not.
 *
 * - The system (/usr, /bin, /lib*, /etc, ...) read-only; symlinked top-level dirs stay symlinks.
 * - A private /tmp (tmpfs), a fresh /proc for its own pid namespace, a minimal /dev.
 * - Its own work dir read-write, at the same path as outside (paths in logs and configs stay true).
 * - Only its assigned GPUs: /dev/nvidia<N> for each assigned index plus the control nodes, when present.
 * - Hidden paths (the platform's data dir, other jobs' dirs, the runtime's logs and state) are never bound;
 *   where one lies under a bound path, it is covered with an empty tmpfs (a file with /dev/null).
 * - The host network is shared: workloads reach the control-plane API over loopback.
 * - No capabilities (bubblewrap's default when run as root), own pid and IPC namespaces.
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
}

export const SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"];
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
    "--die-with-parent",
    "--cap-drop",
    "ALL",
  ];
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
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp");
  for (const extra of layout.readOnlyPaths) {
    const resolved = path.resolve(extra);
    args.push("--ro-bind-try", resolved, resolved);
    bound.push(resolved);
  }
  const workDir = path.resolve(layout.workDir);
  const hidden = layout.hiddenPaths.map((hiddenPath) => path.resolve(hiddenPath));
  // Masks first (one may be an ancestor of the work dir, which is then bound on top of it), then the work
  // dir, then the masks inside the work dir again so that the bind does not uncover them.
  const masks = hidden.filter((hiddenPath) => bound.some((root) => isWithin(hiddenPath, root)));
  for (const mask of masks) pushMask(args, mask);
  args.push("--bind", workDir, workDir);
  for (const mask of hidden.filter((hiddenPath) => isWithin(hiddenPath, workDir) && hiddenPath !== workDir)) {
    pushMask(args, mask);
  }
  for (const index of layout.gpuDeviceIndices)
    args.push("--dev-bind-try", `/dev/nvidia${index}`, `/dev/nvidia${index}`);
  if (layout.gpuDeviceIndices.length > 0) {
    for (const node of GPU_CONTROL_NODES) args.push("--dev-bind-try", node, node);
  }
  args.push("--chdir", workDir, "--", ...command);
  return args;
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

/** Whether bubblewrap runs here with the namespaces we use (it can be installed yet refused, e.g. in Docker). */
export async function probeBubblewrap(bwrapPath: string): Promise<Availability> {
  try {
    accessSync(bwrapPath, constants.X_OK);
  } catch {
    return { available: false, reason: `${bwrapPath} not found or not executable` };
  }
  const args = [
    "--unshare-pid",
    "--unshare-ipc",
    "--die-with-parent",
    "--ro-bind",
    "/",
    "/",
    "--proc",
    "/proc",
  ];
  args.push("--dev", "/dev", "--tmpfs", "/tmp", "--", "true");
  return new Promise((resolve) => {
    execFile(bwrapPath, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (!error) resolve({ available: true });
      else resolve({ available: false, reason: `${bwrapPath} failed: ${stderr.trim() || error.message}` });
    });
  });
}

export function probeExecutable(file: string): Availability {
  try {
    accessSync(file, constants.X_OK);
    return { available: true };
  } catch {
    return { available: false, reason: `${file} not found or not executable` };
  }
}
