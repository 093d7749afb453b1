import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type RunningServer, startServer } from "../../src/main.js";
import { createTestDatabase, type DatabaseKind, type TestDatabase } from "./databases.js";

export const TEST_ADMIN_TOKEN = "mlops_test-admin-token-0123456789abcdef";

export interface TestServer extends RunningServer {
  dataDir: string;
  database: TestDatabase;
  adminToken: string;
  /** fetch against the server with the admin token (or `token`). */
  call(
    method: string,
    urlPath: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestServer(
  kind: DatabaseKind = "sqlite",
  env: Record<string, string> = {},
): Promise<TestServer> {
  const database = await createTestDatabase(kind);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-data-"));
  const server = await startServer({
    env: {
      MLOPS_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      MLOPS_LOG_LEVEL: "error",
      MLOPS_BACKGROUND_LOOPS: "false",
      ...(database.postgresUrl
        ? { DATABASE_URL: database.postgresUrl, MLOPS_DATABASE_SCHEMA: database.schema }
        : {}),
      ...env,
    },
    flags: { port: 0, dataDir, host: "127.0.0.1" },
    logger: false,
  });
  if (database.sqliteFile) {
    // The server put its SQLite file in its own data dir; the test database dir is unused.
  }
  const call: TestServer["call"] = async (method, urlPath, body, token = TEST_ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    const response = await fetch(server.url + urlPath, { method, headers, body: payload });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // leave as text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  return {
    ...server,
    dataDir,
    database,
    adminToken: TEST_ADMIN_TOKEN,
    call,
    async stop() {
      // Replicas outlive their control plane by design (a restart reconciles them): a test's server
      // cancels whatever still runs (jobs, workspaces' sshd) so that no test leaves processes behind.
      await cancelActiveJobs(call);
      await server.close();
      await database.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function cancelActiveJobs(call: TestServer["call"]): Promise<void> {
  const active = "queued,scheduled,running";
  try {
    const listed = await call("GET", `/api/v1/jobs?state=${active}`);
    const jobs = ((listed.body as { jobs?: Array<{ id: string }> })?.jobs ?? []).map((job) => job.id);
    if (jobs.length === 0) return;
    await Promise.all(jobs.map((id) => call("POST", `/api/v1/jobs/${id}/cancel`)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const left = await call("GET", `/api/v1/jobs?state=scheduled,running`);
      if (((left.body as { jobs?: unknown[] })?.jobs ?? []).length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } catch {
    // the server is already gone or never served jobs: nothing to cancel
  }
}
