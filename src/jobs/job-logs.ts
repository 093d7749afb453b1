import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { NotFoundError } from "../errors.js";
import type { LogChunk, Runtime } from "../runtime/runtime.js";
import { isTerminal, type Job } from "./job.js";
import type { JobReplica, JobStore } from "./job-store.js";

/**
 * A job's logs: live from the runtime while a replica runs, from the artifact store once it has ended
 * (the scheduler copies both streams there). Following spans retries: when an attempt fails and the job
 * is queued again, the stream continues with the next attempt's output.
 */
export type LogStream = "stdout" | "stderr";

export type JobLogEvent =
  | { type: "log"; attempt: number; replicaIndex: number; stream: LogStream; data: Buffer }
  | { type: "state"; job: Job }
  | { type: "end"; job: Job };

export interface JobLogDeps {
  store: JobStore;
  runtime: Runtime;
  artifacts: ArtifactStore;
  pollMs?: number;
}

/** Copies a replica's two log files into the artifact store; null for a stream that has no file. */
export async function archiveReplicaLogs(
  runtime: Runtime,
  artifacts: ArtifactStore,
  replicaId: string,
): Promise<{ stdout: string | null; stderr: string | null }> {
  const files = runtime.logFiles(replicaId);
  const put = async (file: string) => {
    try {
      await stat(file);
    } catch {
      return null;
    }
    return (await artifacts.put(createReadStream(file))).sha256;
  };
  return { stdout: await put(files.stdout), stderr: await put(files.stderr) };
}

/** What a replica has written so far (or in all, once it ended), one stream or both in turn. */
export async function* replicaLogs(
  deps: JobLogDeps,
  replica: JobReplica,
  options: { follow: boolean; streams?: readonly LogStream[]; signal?: AbortSignal },
): AsyncGenerator<LogChunk> {
  const streams = options.streams ?? ["stdout", "stderr"];
  const archived =
    replica.state === "ended" && (replica.stdoutSha256 !== null || replica.stderrSha256 !== null);
  if (archived) {
    for (const stream of streams) {
      const sha = stream === "stdout" ? replica.stdoutSha256 : replica.stderrSha256;
      if (sha === null) continue;
      for await (const data of await deps.artifacts.get(sha)) yield { stream, data: data as Buffer };
    }
    return;
  }
  let live: AsyncIterable<LogChunk>;
  try {
    live = deps.runtime.logs(replica.replicaId, { follow: options.follow, signal: options.signal });
  } catch (err) {
    if (err instanceof NotFoundError) return; // never started, or its files are on another host
    throw err;
  }
  for await (const chunk of live) if (streams.includes(chunk.stream)) yield chunk;
}

/** Streams one replica (by index) of the job's current attempt, then the next attempt's, until the job ends. */
export async function* followJobLogs(
  deps: JobLogDeps,
  jobId: string,
  options: { replicaIndex: number; signal?: AbortSignal },
): AsyncGenerator<JobLogEvent> {
  const pollMs = deps.pollMs ?? 200;
  let streamedAttempt = -1;
  let lastState = "";
  while (!options.signal?.aborted) {
    const job = await deps.store.getJob(jobId);
    if (!job) throw new NotFoundError(`job ${jobId} not found`);
    const stateKey = `${job.state}/${job.attempt}`;
    if (stateKey !== lastState) {
      lastState = stateKey;
      yield { type: "state", job };
    }
    if (job.attempt > streamedAttempt) {
      const replica = (await deps.store.replicas(jobId, job.attempt)).find(
        (candidate) => candidate.replicaIndex === options.replicaIndex,
      );
      if (replica && replica.state !== "placed") {
        for await (const chunk of replicaLogs(deps, replica, { follow: true, signal: options.signal })) {
          yield { type: "log", attempt: job.attempt, replicaIndex: replica.replicaIndex, ...chunk };
        }
        streamedAttempt = job.attempt;
        continue;
      }
    }
    if (isTerminal(job.state)) {
      yield { type: "end", job };
      return;
    }
    try {
      await sleep(pollMs, undefined, { signal: options.signal });
    } catch {
      return; // aborted: the client went away
    }
  }
}
