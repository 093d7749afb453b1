import { type FileHandle, open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { LogChunk } from "./runtime.js";

/**
 * Streams a replica's two log files as chunks (local runtime: the job's files; Slurm: a rank's files on the
 * shared work dir). The workload writes the files directly (no pipe through the control plane, so logs
 * keep flowing while no control plane runs); following is a poll of the files. The end is safe: the
 * backend records the exit only after the replica's output is flushed and closed, so once `isFinished()`
 * has said yes, one more read to end-of-file sees everything.
 */
export interface TailOptions {
  follow: boolean;
  from?: { stdout?: number; stderr?: number };
  pollMs: number;
  isFinished: () => boolean | Promise<boolean>;
  signal?: AbortSignal;
}

const CHUNK = 64 * 1024;

export async function* tailLogs(
  files: { stdout: string; stderr: string },
  options: TailOptions,
): AsyncGenerator<LogChunk> {
  const streams = [
    {
      stream: "stdout" as const,
      file: files.stdout,
      offset: options.from?.stdout ?? 0,
      handle: null as FileHandle | null,
    },
    {
      stream: "stderr" as const,
      file: files.stderr,
      offset: options.from?.stderr ?? 0,
      handle: null as FileHandle | null,
    },
  ];
  try {
    for (;;) {
      const finishedBefore = !options.follow || (await options.isFinished());
      for (const entry of streams) {
        if (entry.handle === null) entry.handle = await openOrNull(entry.file);
        if (entry.handle === null) continue;
        for (;;) {
          const buffer = Buffer.allocUnsafe(CHUNK);
          const { bytesRead } = await entry.handle.read(buffer, 0, CHUNK, entry.offset);
          if (bytesRead === 0) break;
          entry.offset += bytesRead;
          yield { stream: entry.stream, data: buffer.subarray(0, bytesRead) };
          if (options.signal?.aborted) return;
        }
      }
      if (finishedBefore || options.signal?.aborted) return;
      try {
        await sleep(options.pollMs, undefined, { signal: options.signal });
      } catch {
        return; // aborted
      }
    }
  } finally {
    for (const entry of streams) await entry.handle?.close();
  }
}

async function openOrNull(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}
