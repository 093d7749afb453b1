/** `mlops trigger ...` and `mlops pipeline ...` as real CLI processes against a real server. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateImages } from "../src/demo/loop/images.js";
import { PlatformClient } from "../src/demo/loop/platform-client.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

describeEachDatabase("pipeline CLI", (kind) => {
  let server: TestServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startTestServer(kind);
    env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken };
    const client = new PlatformClient(server.url, server.adminToken);
    await client.call("POST", "/api/v1/datasets", {
      name: "shapes",
      task: "classification",
      classes: ["circle", "square", "triangle"],
    });
    await client.importImages("shapes", await generateImages(12, { seed: 2, shift: false, labeled: true }));
    await client.call("POST", "/api/v1/models", { name: "shapes" });
  }, 60_000);
  afterAll(async () => server?.stop());

  it("sets, shows, pauses and resumes a policy; lists and shows the run it fires", async () => {
    const set = await runCliProcess(
      [
        "trigger",
        "set",
        "shapes",
        "--dataset",
        "shapes",
        "--min-new-labels",
        "10",
        "--cooldown",
        "60",
        "--settle",
        "0",
        "--command",
        "python train.py --epochs 3 --run-name 'nightly retrain'",
        "--env",
        "EXTRA=1",
        "--json",
      ],
      env,
    );
    expect(set.code, set.stderr).toBe(0);
    const policy = JSON.parse(set.stdout);
    expect(policy.job.command).toEqual([
      "python",
      "train.py",
      "--epochs",
      "3",
      "--run-name",
      "nightly retrain",
    ]);
    expect(policy.job.env).toEqual({ EXTRA: "1" });

    const shown = await runCliProcess(["trigger", "show", "shapes"], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/new labels\s+12 since the beginning/);
    expect(shown.stdout).toMatch(/fires on the next check/);

    expect((await runCliProcess(["trigger", "pause", "shapes"], env)).stdout).toMatch(/paused/);
    const paused = JSON.parse((await runCliProcess(["trigger", "show", "shapes", "--json"], env)).stdout);
    expect(paused.trigger).toMatchObject({ fires: false, reason: "paused" });
    await runCliProcess(["trigger", "resume", "shapes"], env);

    await server.platform.pipelines.triggers.checkAll();
    const list = await runCliProcess(["pipeline", "list", "--model", "shapes", "--json"], env);
    const [run] = JSON.parse(list.stdout);
    expect(run).toMatchObject({ state: "snapshot", triggerSeq: 1 });
    await server.platform.pipelines.engine.advance(run.id);
    const show = await runCliProcess(["pipeline", "show", run.id], env);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(/snapshot\s+succeeded/);
    expect(show.stdout).toMatch(/train\s+running/);
    const logs = await runCliProcess(["pipeline", "logs", run.id], env);
    expect(logs.code).toBe(4); // no job yet: not found
    const missing = await runCliProcess(["trigger", "show", "nope"], env);
    expect(missing.code).toBe(4);
  }, 60_000);
});
