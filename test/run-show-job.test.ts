import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";
import { startTestServer, type TestServer } from "./support/server.js";

describe("mlops run show accepts the job id that run submit printed (docs: README.md#cli)", () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  let job: { id: string; runId: string };

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    dir = mkdtempSync(path.join(os.tmpdir(), "mlops-run-show-"));
    env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken, MLOPS_CONFIG_DIR: dir };
    // Background loops are off: the job stays queued, its run exists from submission on.
    const submitted = await server.call("POST", "/api/v1/jobs", { name: "train-x", command: ["true"] });
    expect(submitted.status).toBe(201);
    job = submitted.body as { id: string; runId: string };
    expect(job.runId).toBeTruthy();
    expect(job.runId).not.toBe(job.id);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a job id shows that job's run, and says so on stderr", async () => {
    const shown = await runCliProcess(["run", "show", job.id], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^id\\s+${job.runId}$`, "m"));
    expect(shown.stdout).toMatch(new RegExp(`lineage.*${job.id}|mlops.job_id.*${job.id}`));
    expect(shown.stderr).toContain(`job ${job.id}: showing its run ${job.runId}`);

    const json = await runCliProcess(["--json", "run", "show", job.id], env);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: job.runId });
  });

  it("a run id still shows the run, with nothing on stderr", async () => {
    const shown = await runCliProcess(["--json", "run", "show", job.runId], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: job.runId });
    expect(shown.stderr).toBe("");
  });

  it("an id that is neither exits 4 with one clear line", async () => {
    const shown = await runCliProcess(["run", "show", "0123456789abcdef0123456789abcdef"], env);
    expect(shown.code).toBe(4);
    expect(shown.stderr).toBe("error: no run or job '0123456789abcdef0123456789abcdef'\n");
    expect(shown.stdout).toBe("");
  });
});
