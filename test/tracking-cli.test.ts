import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";
import { startTestServer, type TestServer } from "./support/server.js";

describe("tracking CLI", () => {
  let server: TestServer;
  let env: Record<string, string>;
  let out: string;
  const runIds: string[] = [];

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    out = mkdtempSync(path.join(os.tmpdir(), "mlops-cli-out-"));
    env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken, MLOPS_CONFIG_DIR: out };
    const exp = (await server.call("POST", "/api/v1/experiments", { name: "cli-exp" })).body as {
      id: string;
    };
    for (const [lr, acc] of [
      ["0.01", 0.93],
      ["0.1", 0.81],
    ] as const) {
      const run = (await server.call("POST", "/api/v1/runs", { experimentId: exp.id, name: `lr-${lr}` }))
        .body as { id: string };
      runIds.push(run.id);
      await server.call("POST", `/api/v1/runs/${run.id}/log`, {
        params: [{ key: "lr", value: lr }],
        metrics: Array.from({ length: 200 }, (_, step) => ({ key: "acc", value: (acc * step) / 199, step })),
      });
    }
    await fetch(`${server.url}/api/v1/runs/${runIds[0]}/artifacts/model/labels.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.adminToken}` },
      body: "cat\ndog\n",
    });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it("lists experiments and runs, shows and compares runs", async () => {
    const experiments = await runCliProcess(["experiment", "list"], env);
    expect(experiments.code, experiments.stderr).toBe(0);
    expect(experiments.stdout).toMatch(/cli-exp/);
    expect(experiments.stdout).toMatch(/Default/);
    const runs = await runCliProcess(
      ["run", "list", "--experiment", "cli-exp", "--filter", "metrics.acc > 0.9"],
      env,
    );
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toContain("lr-0.01");
    expect(runs.stdout).not.toContain("lr-0.1 ");
    const shown = await runCliProcess(["--json", "run", "show", runIds[0]], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: runIds[0],
      params: { lr: "0.01" },
      metrics: { acc: { step: 199 } },
    });
    const compared = await runCliProcess(["run", "compare", ...runIds, "--metrics", "acc"], env);
    expect(compared.code, compared.stderr).toBe(0);
    expect(compared.stdout).toMatch(/PARAM\.LR\s+METRIC\.ACC/);
    expect(compared.stdout).toMatch(/lr-0\.1\s+0\.1\s+0\.8\d*\s*$/m);
    const metrics = await runCliProcess(["--json", "metrics", runIds[0], "acc", "--max-points", "20"], env);
    expect(JSON.parse(metrics.stdout)).toMatchObject({ mode: "buckets", covered: 200 });
    const missing = await runCliProcess(["run", "show", "0".repeat(32)], env);
    expect(missing.code).toBe(4);
  });

  it("downloads a run's artifacts", async () => {
    const result = await runCliProcess(["artifact", "download", runIds[0], "model", "--out", out], env);
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(path.join(out, "model", "labels.txt"), "utf8")).toBe("cat\ndog\n");
  });
});
