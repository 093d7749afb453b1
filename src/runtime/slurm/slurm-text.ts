import type { SchedulerNode } from "../../jobs/capacity-pool.js";
import type { GpuDevice } from "../../jobs/gpu-inventory.js";

/**
 * Pure parsers for what the Slurm CLI tools print (docs/architecture/slurm.md). No I/O here: slurm-cli.ts
 * runs the tools, these turn their text into data.
 */

/**
 * One `scontrol show <thing> -o` line: `Key=Value` pairs separated by spaces. Values may contain spaces
 * only in a few fields (OS=, Reason=), so a token without `=` continues the previous value.
 */
export function parseScontrolLine(line: string): Record<string, string> {
  const record: Record<string, string> = {};
  let last: string | null = null;
  for (const token of line.trim().split(/\s+/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    if (eq > 0) {
      last = token.slice(0, eq);
      record[last] = token.slice(eq + 1);
    } else if (last !== null) {
      record[last] = `${record[last]} ${token}`;
    }
  }
  return record;
}

export interface GresEntry {
  name: string;
  /** The gres type ("h100"); "gpu" when the cluster declares untyped GPUs. */
  type: string;
  count: number;
}

/**
 * `Gres=gpu:h100:4(S:0-1),gpu:a100:2,shard:8` -> GPU entries only. `(null)` or empty means none. The
 * socket affinity suffix `(S:..)` and the `IDX:` lists of GresUsed are ignored.
 */
export function parseGres(value: string | undefined): GresEntry[] {
  if (!value || value === "(null)") return [];
  const entries: GresEntry[] = [];
  for (const raw of value.split(/,(?![^(]*\))/)) {
    const part = raw.replace(/\(.*\)$/, "").trim();
    const fields = part.split(":");
    if (fields[0] !== "gpu") continue;
    const count = Number(fields[fields.length - 1]);
    if (!Number.isInteger(count) || count < 0) continue;
    const type = fields.length >= 3 ? fields[1].toLowerCase() : "gpu";
    entries.push({ name: "gpu", type, count });
  }
  return entries;
}

/** Node states in which Slurm starts no new work: such nodes add nothing to the inventory. */
const UNUSABLE_NODE_STATE =
  /DOWN|DRAIN|FAIL|NOT_RESPONDING|FUTURE|POWERED_DOWN|POWER_DOWN|INVAL|MAINT|REBOOT/;

/**
 * `scontrol show node -o` -> the platform's scheduler nodes (only nodes in `partition` when given, and
 * only usable ones). GPUs get stable uuids `SLURM-<node>-<type>-<n>`; indices count per node. They are
 * not simulated (a real cluster's devices), but the control plane never touches them: Slurm assigns them.
 */
export function parseNodeInventory(output: string, partition?: string): SchedulerNode[] {
  const nodes: SchedulerNode[] = [];
  for (const line of output.split("\n")) {
    if (line.trim() === "" || line.startsWith("No nodes")) continue;
    const record = parseScontrolLine(line);
    const name = record.NodeName;
    if (!name) continue;
    if (partition && !(record.Partitions ?? "").split(",").includes(partition)) continue;
    if (UNUSABLE_NODE_STATE.test(record.State ?? "")) continue;
    const gpus: GpuDevice[] = [];
    for (const entry of parseGres(record.Gres)) {
      for (let n = 0; n < entry.count; n++) {
        gpus.push({
          index: gpus.length,
          uuid: `SLURM-${name}-${entry.type}-${n}`,
          type: entry.type,
          simulated: false,
        });
      }
    }
    nodes.push({
      id: name,
      cpu: Number(record.CPUEfctv ?? record.CPUTot ?? 0) || 0,
      memoryMiB: Number(record.RealMemory ?? 0) || 0,
      gpus,
    });
  }
  return nodes;
}

/** Slurm job states (squeue %T) while the allocation exists. */
const ACTIVE_STATES = new Set([
  "PENDING",
  "CONFIGURING",
  "RUNNING",
  "COMPLETING",
  "SUSPENDED",
  "REQUEUED",
  "REQUEUE_HOLD",
  "REQUEUE_FED",
  "RESIZING",
  "SIGNALING",
  "STAGE_OUT",
  "STOPPED",
  "RESV_DEL_HOLD",
]);

export function isActiveJobState(state: string): boolean {
  return ACTIVE_STATES.has(state);
}

export function isPendingJobState(state: string): boolean {
  return state === "PENDING" || state === "CONFIGURING" || state === "REQUEUED" || state === "REQUEUE_HOLD";
}

export interface QueueEntry {
  jobId: string;
  state: string;
  reason: string;
}

/** `squeue -h -t all -o "%i|%T|%r"` -> entries by job id (array/het suffixes are not used by the backend). */
export function parseSqueue(output: string): Map<string, QueueEntry> {
  const entries = new Map<string, QueueEntry>();
  for (const line of output.split("\n")) {
    const [jobId, state, reason] = line.trim().split("|");
    if (!jobId || !state) continue;
    entries.set(jobId, { jobId, state, reason: reason ?? "" });
  }
  return entries;
}

/** "1-02:03:04", "02:03:04", "03:04.5", "00:00:00" (sstat/sacct CPU times) -> seconds. */
export function parseSlurmDuration(value: string): number | null {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(value.trim());
  if (!match) return null;
  const [, days, hours, minutes, seconds] = match;
  return Number(days ?? 0) * 86400 + Number(hours ?? 0) * 3600 + Number(minutes) * 60 + Number(seconds);
}

/** "9036K", "1.50M", "2G", "123" (bytes) -> bytes. */
export function parseSlurmSize(value: string): number | null {
  const match = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(value.trim());
  if (!match) return null;
  const power = { "": 0, K: 1, M: 2, G: 3, T: 4 }[match[2] as "" | "K" | "M" | "G" | "T"];
  return Math.round(Number(match[1]) * 1024 ** power);
}
