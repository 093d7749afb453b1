import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import type { Availability } from "./sandbox.js";

/**
 * Per-replica memory and process-count limits with cgroups, where this host lets the control plane
 * (root) create them: cgroup v2 with the memory and pids controllers, or the v1 `memory` and `pids`
 * hierarchies. A cgroup charges every page a replica touches — heap, shared mmap, tmpfs /tmp — so unlike
 * RLIMIT_DATA it cannot be bypassed with MAP_SHARED (docs/security.md). Each replica gets
 * `<root>/mlops/<replicaId>` per hierarchy; the launcher moves its first process in before anything of
 * the workload runs, and the supervisor removes the directories when the replica has ended.
 */
export interface CgroupLayout {
  version: 1 | 2;
  /** v2: the one unified root; v1: the memory hierarchy's root. */
  memoryRoot: string;
  /** v1: the pids hierarchy's root (v2: same as memoryRoot). */
  pidsRoot: string;
}

export interface ReplicaCgroup {
  /** Directories created for the replica (one for v2, two for v1). */
  dirs: string[];
  /** `cgroup.procs` files the launcher writes its pid to. */
  procsFiles: string[];
}

const PARENT = "mlops";

/** Which cgroup layout works here (tries to create the `mlops` parent), or why none does. */
export function detectCgroups(root = "/sys/fs/cgroup"): { layout: CgroupLayout | null; reason?: string } {
  const controllers = readOrNull(path.join(root, "cgroup.controllers"));
  if (controllers !== null) {
    const names = controllers.trim().split(/\s+/);
    if (names.includes("memory") && names.includes("pids")) {
      const tried = tryV2(root);
      if (tried.available) return { layout: { version: 2, memoryRoot: root, pidsRoot: root } };
      return { layout: null, reason: tried.reason };
    }
  }
  const memory = path.join(root, "memory");
  const pids = path.join(root, "pids");
  if (existsSync(path.join(memory, "memory.limit_in_bytes")) && existsSync(path.join(pids, "cgroup.procs"))) {
    const tried = tryV1(memory, pids);
    if (tried.available) return { layout: { version: 1, memoryRoot: memory, pidsRoot: pids } };
    return { layout: null, reason: tried.reason };
  }
  return { layout: null, reason: "no cgroup v2 memory+pids controllers and no v1 memory/pids hierarchies" };
}

function tryV2(root: string): Availability {
  try {
    const parent = path.join(root, PARENT);
    mkdirSync(parent, { recursive: true });
    // Controllers must be enabled on every level above the replica's cgroup.
    writeFileSync(path.join(root, "cgroup.subtree_control"), "+memory +pids");
    writeFileSync(path.join(parent, "cgroup.subtree_control"), "+memory +pids");
    accessSync(path.join(parent, "cgroup.procs"), constants.W_OK);
    return { available: true };
  } catch (err) {
    return { available: false, reason: `cgroup v2 not writable: ${(err as Error).message}` };
  }
}

function tryV1(memory: string, pids: string): Availability {
  try {
    mkdirSync(path.join(memory, PARENT), { recursive: true });
    mkdirSync(path.join(pids, PARENT), { recursive: true });
    accessSync(path.join(memory, PARENT, "cgroup.procs"), constants.W_OK);
    return { available: true };
  } catch (err) {
    return { available: false, reason: `cgroup v1 not writable: ${(err as Error).message}` };
  }
}

/** Creates the replica's cgroup(s) with its limits; swap is not allowed past the memory limit. */
export function createReplicaCgroup(
  layout: CgroupLayout,
  replicaId: string,
  limits: { memoryBytes: number; maxProcesses: number },
): ReplicaCgroup {
  const memory = String(limits.memoryBytes);
  const tasks = String(limits.maxProcesses);
  if (layout.version === 2) {
    const dir = path.join(layout.memoryRoot, PARENT, replicaId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "memory.max"), memory);
    writeIfPresent(path.join(dir, "memory.swap.max"), "0");
    writeFileSync(path.join(dir, "pids.max"), tasks);
    return { dirs: [dir], procsFiles: [path.join(dir, "cgroup.procs")] };
  }
  const memoryDir = path.join(layout.memoryRoot, PARENT, replicaId);
  const pidsDir = path.join(layout.pidsRoot, PARENT, replicaId);
  mkdirSync(memoryDir, { recursive: true });
  mkdirSync(pidsDir, { recursive: true });
  writeFileSync(path.join(memoryDir, "memory.limit_in_bytes"), memory);
  // memory+swap no higher than memory: a replica cannot page out past its limit.
  writeIfPresent(path.join(memoryDir, "memory.memsw.limit_in_bytes"), memory);
  writeFileSync(path.join(pidsDir, "pids.max"), tasks);
  return {
    dirs: [memoryDir, pidsDir],
    procsFiles: [path.join(memoryDir, "cgroup.procs"), path.join(pidsDir, "cgroup.procs")],
  };
}

/** Removes a replica's cgroup directories (only empty ones can go; a lost replica's may hold zombies). */
export function removeReplicaCgroup(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // Already gone, or processes still inside: the supervisor or a later reconcile tries again.
    }
  }
}

function writeIfPresent(file: string, value: string): void {
  if (existsSync(file)) writeFileSync(file, value);
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return null;
  }
}
