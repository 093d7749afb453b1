import { execFile, execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { ReplicaUsage } from "../runtime.js";

/**
 * Resource samples of a local replica from /proc: every process of its process group and every
 * descendant of its leader (a daemon that called setsid() stays counted; inside the sandbox's pid
 * namespace orphans are re-parented to the sandbox's init, itself a descendant). CPU is the change of
 * utime+stime+cutime+cstime (children's times move to the parent when reaped, so the sum only grows)
 * between two samples; memory is the sum of RSS. GPUs: `nvidia-smi --query-compute-apps` where it exists.
 */
export interface CpuSample {
  ticks: number;
  at: number;
}

interface ProcEntry {
  pid: number;
  ppid: number;
  pgrp: number;
  ticks: number;
  rssPages: number;
}

let clockTicks: number | undefined;
let pageSize: number | undefined;

function sysconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync("getconf", [name], { encoding: "utf8", timeout: 2000 }).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

export function parseProcStatLine(pid: number, text: string): ProcEntry | null {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (fields.length < 22) return null;
  if (fields[0] === "Z" || fields[0] === "X") return null;
  // Fields from 3 on (state is field 3): utime 14, stime 15, cutime 16, cstime 17, rss 24.
  const at = (field: number) => Number(fields[field - 3]);
  return { pid, ppid: at(4), pgrp: at(5), ticks: at(14) + at(15) + at(16) + at(17), rssPages: at(24) };
}

function allProcesses(): ProcEntry[] {
  const entries: ProcEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const entry = parseProcStatLine(Number(name), readFileSync(`/proc/${name}/stat`, "utf8"));
      if (entry) entries.push(entry);
    } catch {
      // Gone while we looked.
    }
  }
  return entries;
}

/** The replica's processes: its group, and the leader's descendants. */
export function replicaProcesses(entries: readonly ProcEntry[], leader: number): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>();
  for (const entry of entries) children.set(entry.ppid, [...(children.get(entry.ppid) ?? []), entry]);
  const picked = new Map<number, ProcEntry>();
  const queue = entries.filter((entry) => entry.pid === leader || entry.pgrp === leader);
  while (queue.length > 0) {
    const entry = queue.pop()!;
    if (picked.has(entry.pid)) continue;
    picked.set(entry.pid, entry);
    queue.push(...(children.get(entry.pid) ?? []));
  }
  return [...picked.values()];
}

export interface ProcessSample {
  pids: number[];
  cpu: CpuSample;
  memoryBytes: number;
}

export function sampleProcesses(leader: number): ProcessSample {
  clockTicks ??= sysconf("CLK_TCK", 100);
  pageSize ??= sysconf("PAGESIZE", 4096);
  const processes = replicaProcesses(allProcesses(), leader);
  return {
    pids: processes.map((entry) => entry.pid),
    cpu: { ticks: processes.reduce((sum, entry) => sum + entry.ticks, 0), at: Date.now() },
    memoryBytes: processes.reduce((sum, entry) => sum + entry.rssPages, 0) * pageSize,
  };
}

/** Cores busy between two samples (0 when processes that held the ticks have gone). */
export function cpuCores(before: CpuSample, after: CpuSample): number {
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return 0;
  return Math.max(0, (after.ticks - before.ticks) / (clockTicks ?? 100) / seconds);
}

/**
 * Per device of the replica: the device's utilization and the memory the replica's processes use on it.
 * `gpus` from `--query-gpu=index,uuid,utilization.gpu`, `apps` from `--query-compute-apps=pid,gpu_uuid,used_memory`.
 */
export function gpuUsage(
  gpus: string,
  apps: string,
  devices: readonly number[],
  pids: readonly number[],
): NonNullable<ReplicaUsage["gpus"]> {
  const rows = (text: string) =>
    text
      .split("\n")
      .map((line) => line.split(",").map((field) => field.trim()))
      .filter((fields) => fields.length >= 3 && fields[0] !== "");
  const mine = new Set(pids);
  return rows(gpus)
    .filter(([index]) => devices.includes(Number(index)))
    .map(([index, uuid, utilization]) => ({
      index: Number(index),
      utilizationPercent: Number(utilization) || 0,
      memoryUsedMiB: rows(apps)
        .filter(([pid, appUuid]) => appUuid === uuid && mine.has(Number(pid)))
        .reduce((sum, [, , used]) => sum + (Number(used) || 0), 0),
    }));
}

export async function sampleGpus(
  nvidiaSmi: string,
  devices: readonly number[],
  pids: readonly number[],
): Promise<ReplicaUsage["gpus"]> {
  const run = (args: string[]) =>
    new Promise<string | null>((resolve) => {
      execFile(nvidiaSmi, args, { timeout: 5000 }, (error, stdout) => resolve(error ? null : stdout));
    });
  const gpus = await run(["--query-gpu=index,uuid,utilization.gpu", "--format=csv,noheader,nounits"]);
  if (gpus === null) return undefined;
  const apps = await run(["--query-compute-apps=pid,gpu_uuid,used_memory", "--format=csv,noheader,nounits"]);
  return gpuUsage(gpus, apps ?? "", devices, pids);
}
