import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logsOf, SMALL, startJobServer, submit, uploadCode, waitForState } from "./jobs-helpers.js";
import type { TestServer } from "./support/server.js";

/**
 * GET /api/v1/jobs/:id/code: what a cluster runtime's init container fetches with the job's own token
 * (docs/architecture/kubernetes-runtime.md). Exercised from inside a real job, exactly as the init
 * container does it: the bytes it gets hash to the job's recorded codeDigest.
 */
describe("the job code route", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startJobServer("sqlite");
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("a job fetches its own archive with its token; it hashes to the recorded digest", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "code-route-"));
    writeFileSync(path.join(dir, "hello.txt"), "hello from the archive\n");
    const digest = await uploadCode(server, dir);
    const script = [
      "import hashlib, os, urllib.request",
      "url = os.environ['MLOPS_API_URL'] + '/api/v1/jobs/' + os.environ['MLOPS_JOB_ID'] + '/code'",
      "req = urllib.request.Request(url, headers={'authorization': 'Bearer ' + os.environ['MLOPS_TOKEN']})",
      "print('sha256', hashlib.sha256(urllib.request.urlopen(req).read()).hexdigest())",
    ].join("\n");
    const job = await submit(server, {
      command: ["python3", "-c", script],
      codeDigest: digest,
      resources: SMALL,
    });
    await waitForState(server, job.id, "succeeded");
    expect(await logsOf(server, job.id)).toContain(`sha256 ${digest}`);
  });

  it("answers 404 for a job without code, and 401 without a token", async () => {
    const job = await submit(server, { command: ["true"], resources: SMALL });
    expect((await server.call("GET", `/api/v1/jobs/${job.id}/code`)).status).toBe(404);
    const anonymous = await fetch(`${server.url}/api/v1/jobs/${job.id}/code`);
    expect(anonymous.status).toBe(401);
  });
});
