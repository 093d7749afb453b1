import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";
import type { TestServer } from "./support/server.js";
import { startJobServer } from "./jobs-helpers.js";

/** `mlops run submit|logs|cancel`, `mlops job list|show`, `mlops gpus` as real CLI processes. */
describe("jobs CLI [sqlite]", () => {
  let server: TestServer;
  let codeDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startJobServer("sqlite", { MLOPS_GPUS: "h100:2", MLOPS_JOB_STOP_GRACE_SECONDS: "1" });
    codeDir = mkdtempSync(path.join(os.tmpdir(), "mlops-code-"));
    writeFileSync(path.join(codeDir, "hello.txt"), "hello from the code archive\n");
    writeFileSync(path.join(codeDir, "secret.txt"), "must not be uploaded\n");
    writeFileSync(path.join(codeDir, ".mlopsignore"), "secret.txt\n");
    mkdirSync(path.join(codeDir, "sub"));
    writeFileSync(path.join(codeDir, "sub", "run.sh"), 'echo "sub ran with $1"\n');
    // The CLI process runs from the repository (it loads tsx from there), so the code dir is named.
    env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(codeDir, { recursive: true, force: true });
  });

  it("submit --wait packs the code dir, streams the logs and exits 0 on success", async () => {
    const result = await runCliProcess(
      [
        "run",
        "submit",
        "--code",
        codeDir,
        "--gpus",
        "1",
        "--cpu",
        "0.1",
        "--memory",
        "128",
        "--env",
        "GREETING=hi",
        "--wait",
        "--",
        "sh",
        "-c",
        'ls; cat hello.txt; sh sub/run.sh "$GREETING"; echo "cvd=$CUDA_VISIBLE_DEVICES"; echo oops >&2',
      ],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("hello from the code archive");
    expect(result.stdout).toContain("sub ran with hi");
    expect(result.stdout).toMatch(/cvd=\d/);
    expect(result.stdout).not.toContain("secret.txt");
    expect(result.stderr).toContain("oops");
    expect(result.stderr).toMatch(/submitted job [0-9a-f-]{36}/);
  }, 30_000);

  it("submit --wait exits non-zero when the job fails, with the reason", async () => {
    const result = await runCliProcess(
      [
        "run",
        "submit",
        "--no-code",
        "--name",
        "doomed",
        "--cpu",
        "0.1",
        "--wait",
        "--",
        "sh",
        "-c",
        "echo bye; exit 7",
      ],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("bye");
    expect(result.stderr).toMatch(/error: job [0-9a-f-]+ failed: exited with code 7/);
  }, 30_000);

  it("refuses an unknown GPU type with a usage exit code", async () => {
    const result = await runCliProcess(
      ["run", "submit", "--no-code", "--gpus", "1", "--gpu-type", "a100", "--", "true"],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown GPU type 'a100'/);
  });

  it("lists, shows, prints logs, cancels; gpus shows the inventory and the sandbox", async () => {
    const submitted = await runCliProcess(
      [
        "--json",
        "run",
        "submit",
        "--no-code",
        "--name",
        "sleeper",
        "--gpus",
        "1",
        "--cpu",
        "0.1",
        "--",
        "sh",
        "-c",
        "echo started; exec sleep 60",
      ],
      env,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    const job = JSON.parse(submitted.stdout) as { id: string; state: string };
    expect(job.state).toBe("queued");
    for (let i = 0; i < 100; i++) {
      const shown = await server.call("GET", `/api/v1/jobs/${job.id}`);
      if ((shown.body as { job: { state: string } }).job.state === "running") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const gpus = await runCliProcess(["gpus"], env);
    expect(gpus.code).toBe(0);
    expect(gpus.stdout).toContain("declared in config (simulated)");
    expect(gpus.stdout).toMatch(new RegExp(`${job.id} \\(sleeper\\)`));
    expect(gpus.stdout).toMatch(/sandbox: (bubblewrap|none)/);

    const list = await runCliProcess(["--json", "job", "list", "--state", "running"], env);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((j) => j.id)).toEqual([job.id]);
    const cancelled = await runCliProcess(["run", "cancel", job.id], env);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain("is being stopped");
    const follow = await runCliProcess(["run", "logs", "-f", job.id], env);
    expect(follow.stdout).toBe("started\n");
    expect(follow.stderr).toMatch(/cancelled/);
    const logs = await runCliProcess(["run", "logs", job.id], env);
    expect(logs.stdout).toBe("started\n");
    const show = await runCliProcess(["job", "show", job.id], env);
    expect(show.stdout).toMatch(/state\s+cancelled/);
    expect(show.stdout).toContain("cancelled on request");
    const missing = await runCliProcess(["job", "show", "no-such-job"], env);
    expect(missing.code).toBe(4);
  }, 40_000);

  it("a distributed job: --nodes/--gpus-per-node/--procs-per-node, logs by rank and interleaved, per-rank show", async () => {
    const submitted = await runCliProcess(
      [
        "run",
        "submit",
        "--no-code",
        "--nodes",
        "1",
        "--gpus-per-node",
        "2",
        "--procs-per-node",
        "2",
        "--cpu",
        "0.2",
        "--memory",
        "256",
        "--wait",
        "--",
        "sh",
        "-c",
        'echo "hello from $RANK of $WORLD_SIZE cvd=$CUDA_VISIBLE_DEVICES"',
      ],
      env,
    );
    expect(submitted.code, submitted.stderr).toBe(0);
    // --wait follows all ranks, each line prefixed.
    expect(submitted.stdout).toContain("[rank 0] hello from 0 of 2 cvd=0");
    expect(submitted.stdout).toContain("[rank 1] hello from 1 of 2 cvd=1");
    const id = /submitted job ([0-9a-f-]{36})/.exec(submitted.stderr)![1];
    const rank1 = await runCliProcess(["run", "logs", id, "--rank", "1"], env);
    expect(rank1.stdout).toBe("hello from 1 of 2 cvd=1\n");
    const all = await runCliProcess(["job", "logs", id], env);
    expect(all.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "[rank 0] hello from 0 of 2 cvd=0",
      "[rank 1] hello from 1 of 2 cvd=1",
    ]);
    const show = await runCliProcess(["job", "show", id], env);
    expect(show.stdout).toMatch(/ranks\s+1 node\(s\) x 2 = 2/);
    expect(show.stdout).toMatch(/ATTEMPT\s+RANK\s+NODE\s+STATE/);
    expect(show.stdout).toMatch(/0\s+1\s+local\s+ended\s+SIM-h100-1/);
    const bad = await runCliProcess(["run", "logs", id, "--rank", "x"], env);
    expect(bad.code).toBe(2);
    const uneven = await runCliProcess(
      ["run", "submit", "--no-code", "--gpus", "1", "--procs-per-node", "2", "--", "true"],
      env,
    );
    expect(uneven.code).not.toBe(0);
    expect(uneven.stderr).toMatch(/must divide evenly/);
  }, 40_000);
});
