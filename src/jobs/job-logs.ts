import { setTimeout as sleep } from "node:timers/promises";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { NotFoundError } from "../errors.js";
import type { LogChunk, Runtime } from "../runtime/runtime.js";
import { isTerminal, type Job } from "./job.js";
import type { JobReplica, JobStore } from "./job-store.js";
import { interleaveRankLines } from "./rank-lines.js";

/**
 * A job's logs: live from the runtime while a replica runs, from the artifact store once it has ended
 * (the scheduler copies both streams there). One rank's logs (`replicaIndex`), or all ranks interleaved
 * line by line with a `[rank R] ` prefix ("all"). Following spans retries: when an attempt fails and the
 * job is queued again, the stream continues with the next attempt's output.
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

/** Which logs: one replica (rank) by index, or every rank interleaved. */
export type RankSelector = number | "all";

/** Copies a replica's complete logs (both streams) into the artifact store; nulls when it has none. */
export async function archiveReplicaLogs(
  runtime: Runtime,
  artifacts: ArtifactStore,
  replicaId: string,
): Promise<{ stdout: string | null; stderr: string | null }> {
  let archive: Awaited<ReturnType<Runtime["logArchive"]>>;
  try {
    archive = await runtime.logArchive(replicaId);
  } catch (err) {
    if (err instanceof NotFoundError) return { stdout: null, stderr: null }; // never wrote a byte
    throw err;
  }
  return {
    stdout: (await artifacts.put(archive.stdout)).sha256,
    stderr: (await artifacts.put(archive.stderr)).sha256,
  };
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
  try {
    // A backend may refuse at the call or at the first read; both mean the same.
    const live = deps.runtime.logs(replica.replicaId, { follow: options.follow, signal: options.signal });
    for await (const chunk of live) if (streams.includes(chunk.stream)) yield chunk;
  } catch (err) {
    if (err instanceof NotFoundError) return; // never started, or its logs are on another host
    throw err;
  }
}

/**
 * Every started rank of one attempt, line-merged and prefixed (a single rank is not prefixed: its view is
 * the plain one). `replicas` are the attempt's rows.
 */
export async function* attemptLogs(
  deps: JobLogDeps,
  replicas: readonly JobReplica[],
  options: { follow: boolean; streams?: readonly LogStream[]; signal?: AbortSignal },
): AsyncGenerator<LogChunk & { replicaIndex: number }> {
  const started = replicas.filter((replica) => replica.state !== "placed");
  if (started.length === 1 && replicas.length === 1) {
    for await (const chunk of replicaLogs(deps, started[0], options)) {
      yield { ...chunk, replicaIndex: started[0].replicaIndex };
    }
    return;
  }
  const sources = started.map((replica) => ({
    rank: replica.replicaIndex,
    chunks: replicaLogs(deps, replica, options),
  }));
  for await (const line of interleaveRankLines(sources)) {
    yield { stream: line.stream, data: line.data, replicaIndex: line.rank };
  }
}

/**
 * Streams one replica (by index) of the job's current attempt, or all ranks interleaved, then the next
 * attempt's, until the job ends.
 */
export async function* followJobLogs(
  deps: JobLogDeps,
  jobId: string,
  options: { replicaIndex: RankSelector; signal?: AbortSignal },
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
      const replicas = await deps.store.replicas(jobId, job.attempt);
      if (options.replicaIndex === "all") {
        // A gang starts as a whole, but its rows are marked started one by one before the job turns
        // `running`: stream once every rank is marked (or the job moved on), never a partial gang.
        const marked = replicas.filter((replica) => replica.state !== "placed").length;
        const settled = marked === replicas.length || job.state === "running" || isTerminal(job.state);
        if (marked > 0 && settled) {
          const live = attemptLogs(deps, replicas, { follow: true, signal: options.signal });
          for await (const chunk of live) yield { type: "log", attempt: job.attempt, ...chunk };
          streamedAttempt = job.attempt;
          continue;
        }
      } else {
        const replica = replicas.find((candidate) => candidate.replicaIndex === options.replicaIndex);
        if (replica && replica.state !== "placed") {
          for await (const chunk of replicaLogs(deps, replica, { follow: true, signal: options.signal })) {
            yield { type: "log", attempt: job.attempt, replicaIndex: replica.replicaIndex, ...chunk };
          }
          streamedAttempt = job.attempt;
          continue;
        }
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
