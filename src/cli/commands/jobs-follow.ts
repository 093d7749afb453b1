import type { ApiClient } from "../client.js";
import { enc } from "../client.js";

/** Following a job's logs over Server-Sent Events (`GET /api/v1/jobs/:id/logs?follow=1`). */

export interface JobSummary {
  id: string;
  state: string;
  stateReason: string;
  attempt: number;
}

interface SseMessage {
  event: string;
  data: string;
}

/** Parses an SSE body into messages (`event:` + `data:` lines, blank line ends one; comments skipped). */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline = buffer.indexOf("\n");
    while (newline >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "");
      buffer = buffer.slice(newline + 1);
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        event = "message";
        data = [];
      } else if (line.startsWith("event:")) {
        event = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
      newline = buffer.indexOf("\n");
    }
  }
}

export interface FollowOptions {
  /** One rank, or all interleaved; unset: the server's default (all for a distributed job). */
  rank?: number | "all";
  /** Where the job's stdout goes (stderr always goes to stderr). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Status lines ("job queued", "retrying") — to stderr, or nowhere. */
  status?: (line: string) => void;
}

/**
 * Streams the logs until the job ends and returns its final state. If the stream breaks (a control-plane
 * restart), it falls back to polling the job until it ends.
 */
export async function followJob(
  client: ApiClient,
  jobId: string,
  options: FollowOptions,
): Promise<JobSummary> {
  const path = `/api/v1/jobs/${enc(jobId)}/logs?follow=1${options.rank !== undefined ? `&rank=${options.rank}` : ""}`;
  try {
    const response = await client.raw("GET", path, { headers: { accept: "text/event-stream" } });
    if (response.body) {
      for await (const message of readSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
        const payload = JSON.parse(message.data) as Record<string, unknown>;
        if (message.event === "log") {
          const target = payload.stream === "stderr" ? options.stderr : options.stdout;
          target.write(String(payload.text));
        } else if (message.event === "state") {
          const job = payload as unknown as JobSummary;
          options.status?.(
            `job ${job.state}${job.attempt > 0 ? ` (attempt ${job.attempt})` : ""}: ${job.stateReason}`,
          );
        } else if (message.event === "end") {
          return payload as unknown as JobSummary;
        } else if (message.event === "error") {
          options.status?.(`log stream error: ${String(payload.message)}`);
        }
      }
    }
  } catch (err) {
    options.status?.(`log stream interrupted (${(err as Error).message}); waiting for the job to end`);
  }
  for (;;) {
    const { job } = await client.get<{ job: JobSummary }>(`/api/v1/jobs/${enc(jobId)}`);
    if (["succeeded", "failed", "cancelled"].includes(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
