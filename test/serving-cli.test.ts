import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { addVersion, fixtureBytes, noisePng } from "./serving-fixtures.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

describeEachDatabase("mlops deploy / mlops predict", (kind) => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCliProcess(args, env);

  beforeAll(async () => {
    server = await startTestServer(kind);
    dir = mkdtempSync(path.join(os.tmpdir(), "deploy-cli-"));
    env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken, MLOPS_CONFIG_DIR: dir };
    await addVersion(server, "cli-model", fixtureBytes("tiny-classifier"));
    await addVersion(server, "cli-model", fixtureBytes("tiny-classifier"));
    writeFileSync(path.join(dir, "a.png"), await noisePng(30, 30, 3));
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates, canaries, predicts, reports and rolls back through the CLI", async () => {
    const refused = await cli("deploy", "create", "cli", "--model", "cli-model");
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/no production version/);

    const created = await cli(
      "deploy",
      "create",
      "cli",
      "--model",
      "cli-model",
      "--version",
      "1",
      "--environment",
      "dev",
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/serves cli-model version 1 \(dev\)/);

    const canary = await cli(
      "deploy",
      "canary",
      "cli",
      "--version",
      "2",
      "--percent",
      "30",
      "--step-weight",
      "10",
      "--max-weight",
      "60",
      "--interval",
      "5",
      "--auto",
    );
    expect(canary.code, canary.stderr).toBe(0);
    expect(canary.stdout).toMatch(/version 2 takes 30% of cli \(analysis every 5s, \+10% up to 60%\)/);

    const predicted = await cli("--json", "predict", "cli", path.join(dir, "a.png"), "--routing-key", "me");
    expect(predicted.code, predicted.stderr).toBe(0);
    const answer = JSON.parse(predicted.stdout) as {
      modelVersion: number;
      predictions: Array<{ predictionId: string; labels: unknown[] }>;
    };
    expect([1, 2]).toContain(answer.modelVersion);
    expect(answer.predictions[0].labels.length).toBeGreaterThan(0);

    const status = await cli("--json", "deploy", "status", "cli");
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as {
      versions: Array<{ role: string; weight: number; stats: { requests: number } }>;
    };
    expect(s.versions.map((v) => [v.role, v.weight])).toEqual([
      ["primary", 70],
      ["canary", 30],
    ]);
    expect(s.versions.reduce((n, v) => n + v.stats.requests, 0)).toBe(1);

    const rolled = await cli("deploy", "rollback", "cli", "--reason", "checking the CLI");
    expect(rolled.code, rolled.stderr).toBe(0);
    const history = await cli("deploy", "history", "cli");
    expect(history.stdout).toMatch(/start_canary/);
    expect(history.stdout).toMatch(/rollback .*checking the CLI/);
    const list = await cli("deploy", "list");
    expect(list.stdout).toMatch(/cli\s+cli-model\s+dev\s+rolled_back/);
  }, 60_000);
});
