import { readdirSync, readFileSync } from "node:fs";

/**
 * Reading /proc: how the local runtime tells a live process from a vanished one across control-plane
 * restarts. A pid alone is not an identity (pids are reused), so every check pairs it with the process's
 * start time (field 22 of /proc/<pid>/stat, in clock ticks since boot).
 */
export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), X (dead), T, ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  startTicks: number;
}

export function readProcStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) may contain spaces and parentheses; everything after the last ")" is fixed.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    pid,
    state: fields[0],
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    startTicks: Number(fields[19]),
  };
}

const isDead = (stat: ProcStat) => stat.state === "Z" || stat.state === "X";

/** True when `pid` is the same process that had `startTicks`, and it has not exited (zombies have). */
export function isProcessAlive(pid: number, startTicks: number | null | undefined): boolean {
  const stat = readProcStat(pid);
  if (stat === null || isDead(stat)) return false;
  return startTicks === null || startTicks === undefined || stat.startTicks === startTicks;
}

/**
 * Live members of a process group (zombies excluded: they have exited and only wait to be reaped).
 * `startedSince` drops processes older than the group's leader, which cannot belong to it — a guard
 * against a recycled group id.
 */
export function processGroupMembers(pgid: number, startedSince?: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readProcStat(pid);
    if (stat === null || stat.pgrp !== pgid || isDead(stat)) continue;
    if (startedSince !== undefined && stat.startTicks < startedSince) continue;
    members.push(pid);
  }
  return members;
}

/** SIGKILLs what is left of a group; returns how many processes were signalled. */
export function killProcessGroup(pgid: number, startedSince?: number): number {
  const members = processGroupMembers(pgid, startedSince);
  for (const pid of members) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone between the scan and the kill.
    }
  }
  return members.length;
}
