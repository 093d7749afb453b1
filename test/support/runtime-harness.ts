import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ReplicaSpec } from "../../src/runtime/runtime.js";
import { LocalRuntime, type LocalRuntimeOptions } from "../../src/runtime/local/local-runtime.js";
import { processGroupMembers } from "../../src/runtime/local/proc.js";

/** Shared by the local runtime's tests: temp layout, fixtures, and "is anything left running" checks. */
export const FIXTURES = fileURLToPath(new URL("../fixtures/workloads/", import.meta.url));

export interface TestLayout {
  root: string;
  dataDir: string;
  jobsDir: string;
  stateDir: string;
  logDir: string;
  volumesDir: string;
  cleanup: () => void;
}

/** A platform-like layout: data dir holding the runtime's state, logs and every job's dir. */
export function makeLayout(prefix = "rt-"): TestLayout {
  const root = mkdtempSync(path.join(os.tmpdir(), prefix));
  const dataDir = path.join(root, "data");
  const layout = {
    root,
    dataDir,
    jobsDir: path.join(dataDir, "jobs"),
    stateDir: path.join(dataDir, "runtime"),
    logDir: path.join(dataDir, "logs"),
    volumesDir: path.join(dataDir, "volumes"),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
  mkdirSync(layout.jobsDir, { recursive: true });
  return layout;
}

export function createRuntime(layout: TestLayout, extra: Partial<LocalRuntimeOptions> = {}) {
  return LocalRuntime.create({
    stateDir: layout.stateDir,
    logDir: layout.logDir,
    jobsDir: layout.jobsDir,
    volumesDir: layout.volumesDir,
    hiddenPaths: [layout.dataDir],
    defaultGraceMs: 2000,
    pollIntervalMs: 50,
    ...extra,
  });
}

/**
 * A job dir with the fixtures in it, as the runtime leaves it after unpacking a job's code (an existing
 * dir counts as prepared; the runtime's own unpacking from codeDigest is tested in local-runtime.test.ts).
 */
export function jobDir(layout: TestLayout, jobId: string): string {
  const dir = workDirOf(layout, jobId);
  mkdirSync(dir, { recursive: true });
  cpSync(FIXTURES, dir, { recursive: true });
  return dir;
}

/** Where the runtime keeps a job's working directory. */
export function workDirOf(layout: TestLayout, jobId: string): string {
  return path.join(layout.jobsDir, jobId);
}

export function spec(
  layout: TestLayout,
  jobId: string,
  command: string[],
  extra: Partial<ReplicaSpec> = {},
): ReplicaSpec {
  jobDir(layout, jobId);
  return {
    jobId,
    attempt: 0,
    replicaIndex: 0,
    command,
    env: {},
    resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
    timeoutSeconds: null,
    ...extra,
  };
}

/** Live processes whose command line contains `marker` (zombies excluded). */
export function processesWithArg(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmdline.includes(marker) && state !== "Z") found.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return found;
}

export function groupMembers(runtime: LocalRuntime, replicaId: string): number[] {
  const pgid = runtime.processGroupOf(replicaId);
  if (pgid === null) throw new Error(`no process group recorded for ${replicaId}`);
  return processGroupMembers(pgid);
}

export async function readAll(iterable: AsyncIterable<{ stream: string; data: Buffer }>) {
  const out: Record<string, Buffer[]> = { stdout: [], stderr: [] };
  for await (const chunk of iterable) out[chunk.stream].push(chunk.data);
  return { stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
}

export const uniqueMarker = () => `${Math.floor(100000 + Math.random() * 800000)}.${process.pid}`;
