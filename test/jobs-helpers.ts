import { Readable } from "node:stream";
import { packDirectory } from "../src/artifacts/code-archive.js";
import type { DatabaseKind } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";

/** Shared by the job scenario tests: a server whose scheduler runs, and small job helpers. */

export const FIXTURES_DIR = new URL("./fixtures/workloads/", import.meta.url).pathname;

export interface JobView {
  id: string;
  name: string;
  state: string;
  stateReason: string;
  attempt: number;
  runId?: string;
  experimentId?: string;
  startedAt?: string;
  finishedAt?: string;
  submittedAt: string;
  cancelRequested?: boolean;
}

export interface ReplicaView {
  replicaId: string;
  attempt: number;
  replicaIndex: number;
  gpuUuids: string[];
  state: string;
  pid: number | null;
  end: string | null;
  exitCode: number | null;
  signal: string | null;
  message: string | null;
  startedAt: number | null;
  endedAt: number | null;
  stdoutSha256: string | null;
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** A test server with the scheduler loop running (background loops are off in plain test servers). */
export function startJobServer(kind: DatabaseKind, env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(kind, { MLOPS_BACKGROUND_LOOPS: "true", MLOPS_LEASE_TTL_MS: "3000", ...env });
}

export async function submit(server: TestServer, body: Record<string, unknown>): Promise<JobView> {
  const response = await server.call("POST", "/api/v1/jobs", body);
  if (response.status !== 201)
    throw new Error(`submit failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as JobView;
}

export async function getJob(
  server: TestServer,
  id: string,
): Promise<{ job: JobView; replicas: ReplicaView[] }> {
  const response = await server.call("GET", `/api/v1/jobs/${id}`);
  if (response.status !== 200)
    throw new Error(`get failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body as { job: JobView; replicas: ReplicaView[] };
}

export function waitForState(
  server: TestServer,
  id: string,
  states: string | string[],
  timeoutMs = 20_000,
): Promise<{ job: JobView; replicas: ReplicaView[] }> {
  const wanted = new Set(Array.isArray(states) ? states : [states]);
  return waitFor(
    async () => {
      const shown = await getJob(server, id);
      return wanted.has(shown.job.state) ? shown : undefined;
    },
    timeoutMs,
    `job ${id} to reach ${[...wanted].join("|")}`,
  );
}

export async function logsOf(server: TestServer, id: string, query = ""): Promise<string> {
  const response = await server.call("GET", `/api/v1/jobs/${id}/logs${query}`);
  if (response.status !== 200)
    throw new Error(`logs failed: ${response.status} ${JSON.stringify(response.body)}`);
  if (response.body === undefined) return "";
  return typeof response.body === "string" ? response.body : JSON.stringify(response.body);
}

/** Packs a directory and uploads it as a job's code; returns its sha256. */
export async function uploadCode(server: TestServer, dir: string): Promise<string> {
  const packed = await packDirectory(dir);
  const response = await fetch(`${server.url}/api/v1/jobs/code`, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/octet-stream" },
    body: Readable.toWeb(packed.stream) as unknown as ReadableStream,
    duplex: "half",
  } as RequestInit);
  if (response.status !== 201) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { sha256: string }).sha256;
}

/** Small, quick resources, so that CPU and memory never limit a test meant to exercise GPUs. */
export const SMALL = { cpu: 0.1, memoryMiB: 256 };
