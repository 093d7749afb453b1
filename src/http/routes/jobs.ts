import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { Type } from "@sinclair/typebox";
import { InputError, NotFoundError } from "../../errors.js";
import type { Job } from "../../jobs/job.js";
import type { JobLogEvent, LogStream, RankSelector } from "../../jobs/job-logs.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { EventReply, GpusReply, JobReply, ReplicaReply, SubmitBody } from "./jobs-schemas.js";

const tags = ["jobs"];
const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
/** Largest code archive accepted (`mlops run submit --code DIR`). */
const MAX_CODE_BYTES = 1024 ** 3;
const KEEPALIVE_MS = 15_000;

export const jobRoutes: RouteModule = (app, platform) => {
  const { jobs, artifacts } = platform;

  app.post(
    "/api/v1/jobs/code",
    {
      schema: {
        tags,
        summary:
          "Upload a code archive (tar.gz, application/octet-stream, streamed); submit a job with its sha256",
        querystring: Type.Object({ project: Type.Optional(Type.String()) }),
        response: { 201: Type.Object({ sha256: Type.String(), size: Type.Integer() }) },
      },
    },
    async (request, reply) => {
      // Whoever may submit here (a workspace's sessions too) may upload the code to submit with.
      const project = await jobs.submitProject(principalOf(request), request.query.project);
      if (!(request.body instanceof Readable))
        throw new InputError("send the archive as application/octet-stream");
      const put = await artifacts.put(request.body, { maxBytes: MAX_CODE_BYTES });
      await platform.blobs.claim(project.id, [put.sha256]);
      return reply.status(201).send({ sha256: put.sha256, size: put.size });
    },
  );

  app.post(
    "/api/v1/jobs",
    { schema: { tags, summary: "Submit a job", body: SubmitBody, response: { 201: JobReply } } },
    async (request, reply) =>
      reply.status(201).send(await jobs.submit(principalOf(request), withTimeout(request.body))),
  );

  app.get(
    "/api/v1/jobs",
    {
      schema: {
        tags,
        summary: "Jobs in the caller's projects, newest first",
        querystring: Type.Object({
          project: Type.Optional(Type.String()),
          state: Type.Optional(Type.String({ description: "comma-separated states" })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
          cursor: Type.Optional(Type.String()),
        }),
        response: {
          200: Type.Object({ jobs: Type.Array(JobReply), nextCursor: Type.Optional(Type.String()) }),
        },
      },
    },
    async (request) => {
      const { state, ...rest } = request.query;
      const states = state
        ? state
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : undefined;
      return jobs.list(principalOf(request), { ...rest, states });
    },
  );

  app.get(
    "/api/v1/jobs/:id",
    {
      schema: {
        tags,
        summary: "One job with its replicas (all attempts)",
        params: IdParams,
        response: { 200: Type.Object({ job: JobReply, replicas: Type.Array(ReplicaReply) }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const job = await jobs.get(principal, request.params.id);
      // Endpoints (a workspace's sshd port) are for the workspaces service, not for every reader.
      const replicas = (await jobs.replicas(principal, job.id)).map(
        ({ endpoints: _, ...replica }) => replica,
      );
      return { job, replicas };
    },
  );

  app.get(
    "/api/v1/jobs/:id/code",
    {
      schema: {
        tags,
        summary:
          "The job's code archive (tar.gz): what a cluster runtime's init container fetches with the job token",
        params: IdParams,
      },
    },
    async (request, reply) => {
      const job = await jobs.get(principalOf(request), request.params.id);
      if (!job.codeDigest) throw new NotFoundError(`job ${job.id} was submitted without code`);
      return reply
        .header("content-type", "application/gzip")
        .header("x-content-sha256", job.codeDigest)
        .send(await artifacts.get(job.codeDigest));
    },
  );

  app.post(
    "/api/v1/jobs/:id/cancel",
    { schema: { tags, summary: "Cancel a job", params: IdParams, response: { 200: JobReply } } },
    async (request) => jobs.cancel(principalOf(request), request.params.id),
  );

  app.get(
    "/api/v1/jobs/:id/events",
    {
      schema: {
        tags,
        summary: "The job's state transitions (who, when, why)",
        params: IdParams,
        response: { 200: Type.Object({ events: Type.Array(EventReply) }) },
      },
    },
    async (request) => ({ events: await jobs.events(principalOf(request), request.params.id) }),
  );

  app.get(
    "/api/v1/jobs/:id/logs",
    {
      schema: {
        tags,
        summary:
          "One rank's logs, or all ranks interleaved: full text, or with follow=1 a live Server-Sent Events stream across retries",
        description:
          "`rank=R` (or `replica=R`): that rank's output. `rank=all`, the default for a job with several " +
          "ranks: every rank's lines merged as they come, each prefixed `[rank R] `. " +
          "SSE events: `state` {state, attempt, stateReason}, `log` {attempt, replica, rank, stream, text}, " +
          "`end` {state, stateReason, attempt} (then the stream closes).",
        params: IdParams,
        querystring: Type.Object({
          rank: Type.Optional(Type.String({ pattern: "^(all|[0-9]{1,6})$", description: "a rank, or all" })),
          replica: Type.Optional(Type.Integer({ minimum: 0 })),
          attempt: Type.Optional(Type.Integer({ minimum: 0 })),
          stream: Type.Optional(
            Type.Union([Type.Literal("stdout"), Type.Literal("stderr"), Type.Literal("all")]),
          ),
          follow: Type.Optional(Type.String({ description: "1/true: stream live as SSE" })),
        }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const { rank, replica, attempt, stream = "all", follow } = request.query;
      const replicaIndex = rankSelector(rank, replica);
      if (follow === "1" || follow === "true") {
        const abort = new AbortController();
        // Access is checked here, before the stream commits to a 200.
        const events = await jobs.followLogs(principal, request.params.id, {
          replicaIndex,
          signal: abort.signal,
        });
        reply.hijack();
        await streamEvents(reply.raw, events, abort);
        return;
      }
      const streams: LogStream[] = stream === "all" ? ["stdout", "stderr"] : [stream];
      const chunks = await jobs.readLogs(principal, request.params.id, {
        replicaIndex,
        attempt,
        streams,
      });
      const body = Readable.from(
        (async function* () {
          for await (const chunk of chunks) yield chunk.data;
        })(),
      );
      return reply.type("text/plain; charset=utf-8").send(body);
    },
  );

  app.get(
    "/api/v1/gpus",
    {
      schema: {
        tags: ["gpus"],
        summary: "GPU inventory (detected or declared), who holds what, and the runtime's sandbox status",
        response: { 200: GpusReply },
      },
    },
    async (request) => jobs.gpus(principalOf(request)),
  );
};

type RawReply = import("node:http").ServerResponse;

async function streamEvents(raw: RawReply, events: AsyncIterable<JobLogEvent>, abort: AbortController) {
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  raw.on("close", () => abort.abort());
  const send = (event: string, data: unknown) => {
    if (!raw.writableEnded) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const keepalive = setInterval(() => raw.write(": keepalive\n\n"), KEEPALIVE_MS);
  // One decoder per stream and attempt, so a UTF-8 character split across reads is not mangled.
  const decoders = new Map<string, StringDecoder>();
  try {
    for await (const event of events) {
      if (event.type === "log") {
        const key = `${event.attempt}/${event.replicaIndex}/${event.stream}`;
        let decoder = decoders.get(key);
        if (!decoder) {
          decoder = new StringDecoder("utf8");
          decoders.set(key, decoder);
        }
        const text = decoder.write(event.data);
        if (text) {
          send("log", {
            attempt: event.attempt,
            replica: event.replicaIndex,
            rank: event.replicaIndex,
            stream: event.stream,
            text,
          });
        }
      } else {
        send(event.type, summary(event.job));
      }
    }
  } catch (err) {
    send("error", { message: (err as Error).message });
  } finally {
    clearInterval(keepalive);
    raw.end();
  }
}

/** `rank` (a number or "all") or the older `replica`; neither: the service's default for the job. */
function rankSelector(rank: string | undefined, replica: number | undefined): RankSelector | undefined {
  if (rank !== undefined && replica !== undefined && rank !== String(replica)) {
    throw new InputError("give rank or replica, not both");
  }
  if (rank !== undefined) return rank === "all" ? "all" : Number(rank);
  return replica;
}

function summary(job: Job) {
  return { id: job.id, state: job.state, stateReason: job.stateReason, attempt: job.attempt };
}

/** The schema's `timeoutSeconds` (integer >= 1 or null, see jobs-schemas.ts) is typed loosely by TypeBox. */
function withTimeout<T extends { timeoutSeconds?: unknown }>(
  body: T,
): Omit<T, "timeoutSeconds"> & { timeoutSeconds?: number | null } {
  return body as Omit<T, "timeoutSeconds"> & { timeoutSeconds?: number | null };
}
