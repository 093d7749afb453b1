import { InputError } from "../errors.js";

/** One GPU the platform can hand to a workload. Pure data; detection lives in runtime/local/nvidia-smi.ts. */
export interface GpuDevice {
  /** The driver's index (nvidia-smi order); the /dev/nvidia<index> device node. */
  index: number;
  /** Stable id: the driver's "GPU-..." UUID, or "SIM-<type>-<n>" for declared devices. */
  uuid: string;
  /** Normalized type, e.g. "h100". */
  type: string;
  /** The driver's marketing name, when detected. */
  name?: string;
  memoryMiB?: number;
  /** True for devices declared in config (no driver behind them). */
  simulated: boolean;
}

const TYPE_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

/**
 * Parses a declaration such as "h100:4,a100:2" into simulated devices. Indices run across the whole
 * declaration (0-3 h100, 4-5 a100); uuids count per type ("SIM-a100-0") so that adding another type
 * later does not rename existing devices.
 */
export function parseGpuDeclaration(declaration: string): GpuDevice[] {
  const devices: GpuDevice[] = [];
  const seen = new Set<string>();
  const trimmed = declaration.trim();
  if (trimmed === "") return devices;
  for (const part of trimmed.split(",")) {
    const match = /^\s*([^:\s]+)\s*:\s*(\d+)\s*$/.exec(part);
    if (!match)
      throw new InputError(`invalid GPU declaration '${part.trim()}': expected TYPE:COUNT, e.g. h100:4`);
    const type = match[1].toLowerCase();
    const count = Number(match[2]);
    if (!TYPE_PATTERN.test(type)) throw new InputError(`invalid GPU type '${match[1]}' in declaration`);
    if (seen.has(type)) throw new InputError(`GPU type '${type}' is declared twice`);
    if (count < 1 || count > 1024) throw new InputError(`GPU count for '${type}' must be between 1 and 1024`);
    seen.add(type);
    for (let n = 0; n < count; n++) {
      devices.push({ index: devices.length, uuid: `SIM-${type}-${n}`, type, simulated: true });
    }
  }
  return devices;
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits` output.
 * Names contain no commas, so a plain split is safe; unparsable lines are an error rather than a
 * silently smaller inventory.
 */
export function parseNvidiaSmiCsv(output: string): GpuDevice[] {
  const devices: GpuDevice[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = line.split(",").map((field) => field.trim());
    if (fields.length < 4) throw new InputError(`unexpected nvidia-smi line: '${line}'`);
    const [indexText, uuid, name, memoryText] = fields;
    const index = Number(indexText);
    if (!Number.isInteger(index) || index < 0 || uuid === "") {
      throw new InputError(`unexpected nvidia-smi line: '${line}'`);
    }
    const memoryMiB = Number(memoryText);
    devices.push({
      index,
      uuid,
      type: normalizeGpuType(name),
      name,
      ...(Number.isFinite(memoryMiB) && memoryText !== "" ? { memoryMiB } : {}),
      simulated: false,
    });
  }
  return devices.sort((a, b) => a.index - b.index);
}

const VENDOR_WORDS = new Set(["nvidia", "tesla", "geforce", "quadro"]);
/** Words that describe memory, packaging or interconnect rather than the model. */
const VARIANT_WORD = /^(\d+gb|sxm\d*|pcie|hbm\d*e?|nvl|nvlink|mig|max-q|\d+gb\w*)$/;

/**
 * Model name -> scheduler type: "NVIDIA H100 80GB HBM3" -> "h100", "NVIDIA A100-SXM4-80GB" -> "a100",
 * "Tesla V100-SXM2-16GB" -> "v100", "NVIDIA GeForce RTX 4090" -> "rtx4090", "NVIDIA RTX A6000" -> "a6000".
 * Users type these in `--gpu-type`, so they are short and lower-case.
 */
export function normalizeGpuType(name: string): string {
  const words = name
    .toLowerCase()
    .split(/[\s-]+/)
    .filter((word) => word !== "" && !VENDOR_WORDS.has(word) && !VARIANT_WORD.test(word));
  if (words.length === 0) return "gpu";
  const [first, second] = words;
  // "RTX A6000" names the model in the second word; "RTX 4090" needs both to mean anything.
  if ((first === "rtx" || first === "gtx" || first === "titan") && second !== undefined) {
    return /^[a-z]\d/.test(second) ? second : `${first}${second}`;
  }
  return first.replace(/[^a-z0-9_-]/g, "") || "gpu";
}

/**
 * The CUDA_VISIBLE_DEVICES value for a set of devices. Real devices are named by UUID: inside a
 * sandbox that binds only the assigned /dev/nvidia<N> nodes, CUDA renumbers the visible devices from 0,
 * so indices would point at the wrong (or no) device, while UUIDs stay right in and out of the sandbox.
 * Simulated devices have no driver, so their indices are the most useful thing to show.
 */
export function cudaVisibleDevices(devices: readonly GpuDevice[]): string {
  return devices.map((device) => (device.simulated ? String(device.index) : device.uuid)).join(",");
}

/** "h100 x4, a100 x2" — for status output and error messages. */
export function describeInventory(devices: readonly GpuDevice[]): string {
  const counts = new Map<string, number>();
  for (const device of devices) counts.set(device.type, (counts.get(device.type) ?? 0) + 1);
  if (counts.size === 0) return "no GPUs";
  return [...counts].map(([type, count]) => `${type} x${count}`).join(", ");
}
