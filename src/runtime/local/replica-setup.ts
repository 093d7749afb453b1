import { InputError, UnprocessableError } from "../../errors.js";
import { type Endpoint, type ReplicaSpec, replicaIdOf, torchrunEnv } from "../runtime.js";
import { checkLoginUser } from "./login-user.js";
import { envScript } from "./sandbox.js";
import { checkMountPath, checkVolumeName } from "./volumes.js";

/**
 * What the local runtime checks and derives from a spec before anything starts
 * (docs/architecture/runtime-contract.md): refusals are InputError (bad spec) or UnprocessableError
 * (fine spec, but this runtime cannot honour it), and come before any file or process is created, so a
 * gang with one bad member starts none.
 */
const PORT_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function checkSpec(spec: ReplicaSpec, sandboxed: boolean): void {
  replicaIdOf(spec);
  if (spec.command.length === 0 || spec.command[0] === "") throw new InputError("command must not be empty");
  if (spec.command.some((part) => part.includes("\0"))) {
    throw new InputError("command arguments must not contain NUL bytes");
  }
  envScript(spec.env); // names and values
  const { resources } = spec;
  if (!(resources.memoryMiB > 0)) throw new InputError("resources.memoryMiB must be positive");
  for (const device of resources.devices ?? []) {
    if (!Number.isInteger(device.index) || device.index < 0) {
      throw new InputError(`device index ${device.index} is not an integer >= 0`);
    }
  }
  const ports = spec.ports ?? [];
  const portNames = new Set<string>();
  for (const { name } of ports) {
    if (!PORT_NAME.test(name))
      throw new InputError(`port name '${name}' is not allowed (letters, digits, '_')`);
    if (portNames.has(name.toUpperCase())) throw new InputError(`port name '${name}' appears twice`);
    portNames.add(name.toUpperCase());
  }
  if (ports.length > 0 && spec.network === "none") {
    throw new InputError("a replica with network 'none' cannot offer ports: nothing could reach them");
  }
  const mounts = new Set<string>();
  for (const volume of spec.volumes ?? []) {
    checkVolumeName(volume.name);
    checkMountPath(volume.mountPath);
    if (mounts.has(volume.mountPath)) throw new InputError(`mount path ${volume.mountPath} appears twice`);
    mounts.add(volume.mountPath);
  }
  if (spec.user) checkLoginUser(spec.user);
  if (!sandboxed && ((spec.volumes?.length ?? 0) > 0 || spec.user)) {
    throw new UnprocessableError(
      "volumes and a login user need the bubblewrap sandbox (its mounts); this server runs without one",
    );
  }
  if (spec.timeoutSeconds !== null && !(spec.timeoutSeconds > 0)) {
    throw new InputError("timeoutSeconds must be positive or null");
  }
}

/** Extra refusals for a gang: ranks in separate network namespaces could not reach each other. */
export function checkGang(specs: readonly ReplicaSpec[]): void {
  if (specs.length > 1 && specs.some((spec) => spec.network === "none")) {
    throw new InputError(
      "a gang of more than one replica cannot use network 'none' on the local runtime: its ranks could not reach each other",
    );
  }
}

export interface EnvContext {
  workDir: string;
  outputDir: string;
  sdkPythonDir?: string;
  master?: Endpoint;
  ports: Record<string, number>;
}

/** The replica's environment: defaults, then the spec's, then the names the runtime owns. */
export function replicaEnv(spec: ReplicaSpec, context: EnvContext): Record<string, string> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    TMPDIR: "/tmp",
    // CUDA's own order is "fastest first"; PCI bus order makes the indices nvidia-smi's.
    CUDA_DEVICE_ORDER: "PCI_BUS_ID",
    ...(spec.rank ? { GLOO_SOCKET_IFNAME: "lo", NCCL_SOCKET_IFNAME: "lo", NCCL_IB_DISABLE: "1" } : {}),
    ...spec.env,
  };
  const pythonPath = [context.sdkPythonDir, spec.env.PYTHONPATH].filter((part): part is string => !!part);
  if (pythonPath.length > 0) env.PYTHONPATH = pythonPath.join(":");
  Object.assign(env, {
    HOME: spec.user?.home ?? context.workDir,
    MLOPS_WORK_DIR: context.workDir,
    MLOPS_OUTPUT_DIR: context.outputDir,
    CUDA_VISIBLE_DEVICES: (spec.resources.devices ?? []).map((device) => String(device.index)).join(","),
  });
  if (spec.rank && context.master) Object.assign(env, torchrunEnv(spec.rank, context.master));
  for (const [name, port] of Object.entries(context.ports))
    env[`MLOPS_PORT_${name.toUpperCase()}`] = String(port);
  return env;
}

/** `python`/`python3` as the program means the runtime's interpreter (when it found one). */
export function resolvePython(command: readonly string[], python: string | null): string[] {
  const [program, ...rest] = command;
  if (python !== null && (program === "python" || program === "python3")) return [python, ...rest];
  return [...command];
}
