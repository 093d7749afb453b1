import { chownSync, mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { InputError } from "../../errors.js";
import { SYSTEM_PATHS, WORKLOAD_UID, isWithin } from "./sandbox.js";

/**
 * Persistent volumes of the local runtime (a workspace's home): `<root>/<name>/`, 0700 and owned by the
 * workload uid, bind-mounted read-write at the spec's mountPath inside the sandbox. They outlive the
 * replicas that use them until deleteVolume (docs/architecture/runtime-contract.md).
 */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/** Mount points that would shadow what the sandbox itself provides. */
const RESERVED_MOUNTS = [...SYSTEM_PATHS, "/proc", "/dev", "/run/mlops", "/tmp", "/sys"];

export function checkVolumeName(name: string): void {
  if (!VOLUME_NAME.test(name) || name.includes("..")) {
    throw new InputError(`volume name '${name}' is not allowed (letters, digits, '_', '.', '-'; no '..')`);
  }
}

export function checkMountPath(mountPath: string): void {
  if (!path.isAbsolute(mountPath) || path.normalize(mountPath) !== mountPath || mountPath.includes("\0")) {
    throw new InputError(`mount path '${mountPath}' must be a normalized absolute path`);
  }
  if (mountPath === "/" || RESERVED_MOUNTS.some((reserved) => isWithin(mountPath, reserved))) {
    throw new InputError(`mount path '${mountPath}' would cover a system directory`);
  }
}

export class Volumes {
  constructor(private readonly root: string) {}

  pathOf(name: string): string {
    checkVolumeName(name);
    return path.join(this.root, name);
  }

  /** Creates the volume on first use; `owned`: give it to the workload uid (sandboxed replicas). */
  ensure(name: string, owned: boolean): string {
    const dir = this.pathOf(name);
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    try {
      mkdirSync(dir, { mode: 0o700 });
      if (owned) chownSync(dir, WORKLOAD_UID, WORKLOAD_UID);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    return dir;
  }

  async remove(name: string): Promise<void> {
    await rm(this.pathOf(name), { recursive: true, force: true });
  }
}
