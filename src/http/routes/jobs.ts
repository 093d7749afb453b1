import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { Type } from "@sinclair/typebox";
import { InputError } from "../../errors.js";
import type { Job } from "../../jobs/job.js";
import type { JobLogEvent, LogStream } from "../../jobs/job-logs.js";
import { principalOf } from "../auth-hook.js";
import type { RouteModule } from "../types.js";
import { EventReply, GpusReply, JobReply, ReplicaReply, SubmitBody } from "./jobs-schemas.js";

const tags = ["jobs"];
const IdParams = Type.Object({ id: Type.String({ maxLength: 128 }) });
/** Largest code archive accepted (`mlops run submit --code DIR`). */
const MAX_CODE_BYTES = 1024 ** 3;
const KEEPALIVE_MS = 15_000;

export const jobRoutes: RouteModule = (app, platform) => {
  const { jobs, artifacts, identity } = platform;

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
      const project = await identity.getProject(
        principalOf(request),
        request.query.project ?? "default",
        "write",
      );
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
      return { job, replicas: await jobs.replicas(principal, job.id) };
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
          "A replica's logs: full text, or with follow=1 a live Server-Sent Events stream across retries",
        description:
          "SSE events: `state` {state, attempt, stateReason}, `log` {attempt, replica, stream, text}, " +
          "`end` {state, stateReason, attempt} (then the stream closes).",
        params: IdParams,
        querystring: Type.Object({
          replica: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
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
      const { replica = 0, attempt, stream = "all", follow } = request.query;
      if (follow === "1" || follow === "true") {
        const abort = new AbortController();
        // Access is checked here, before the stream commits to a 200.
        const events = await jobs.followLogs(principal, request.params.id, {
          replicaIndex: replica,
          signal: abort.signal,
        });
        reply.hijack();
        await streamEvents(reply.raw, events, abort);
        return;
      }
      const streams: LogStream[] = stream === "all" ? ["stdout", "stderr"] : [stream];
      const chunks = await jobs.readLogs(principal, request.params.id, {
        replicaIndex: replica,
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
        const key = `${event.attempt}/${event.stream}`;
        let decoder = decoders.get(key);
        if (!decoder) {
          decoder = new StringDecoder("utf8");
          decoders.set(key, decoder);
        }
        const text = decoder.write(event.data);
        if (text)
          send("log", { attempt: event.attempt, replica: event.replicaIndex, stream: event.stream, text });
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

function summary(job: Job) {
  return { id: job.id, state: job.state, stateReason: job.stateReason, attempt: job.attempt };
}

/** The schema's `timeoutSeconds` (integer >= 1 or null, see jobs-schemas.ts) is typed loosely by TypeBox. */
function withTimeout<T extends { timeoutSeconds?: unknown }>(
  body: T,
): Omit<T, "timeoutSeconds"> & { timeoutSeconds?: number | null } {
  return body as Omit<T, "timeoutSeconds"> & { timeoutSeconds?: number | null };
}
