import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FIXTURE_MODELS_DIR } from "./fixtures/models/fixtures.js";
import { reportSnapshot } from "./snapshot-helpers.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

describeEachDatabase("mlops model CLI", (kind) => {
  let server: TestServer;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCliProcess(args, env);

  beforeAll(async () => {
    server = await startTestServer(kind);
    env = {
      MLOPS_URL: server.url,
      MLOPS_TOKEN: server.adminToken,
      MLOPS_CONFIG_DIR: path.join(server.dataDir, "cli"),
    };
  });
  afterAll(async () => server?.stop());

  it("registers an ONNX file, gates, validates, promotes and shows the history", async () => {
    const onnx = path.join(FIXTURE_MODELS_DIR, "tiny-classifier", "model.onnx");
    const registered = await cli(
      "model",
      "register",
      "shapes",
      "--onnx",
      onnx,
      "--labels",
      "circle,square,triangle",
      "--json",
    );
    expect(registered.code, registered.stderr).toBe(0);
    expect(JSON.parse(registered.stdout)).toMatchObject({ name: "shapes", version: 1 });
    const version = (await server.call("GET", "/api/v1/models/shapes/versions/1")).body as {
      files: Array<{ path: string }>;
    };
    expect(version.files.map((f) => f.path)).toEqual(["model.json", "model.onnx"]);

    expect((await cli("model", "transition", "shapes", "1", "staging", "--reason", "candidate")).code).toBe(
      0,
    );
    const refused = await cli("model", "promote", "shapes", "1", "--reason", "ship it");
    expect(refused.code).toBe(5);
    expect(refused.stderr).toContain("no validation gate");

    expect(
      (
        await cli(
          "model",
          "gate",
          "shapes",
          "--metric",
          "accuracy",
          "--higher",
          "--min",
          "0.9",
          "--max-regression",
          "0.01",
          "--require",
          "any",
        )
      ).code,
    ).toBe(0);
    const snapshot = await reportSnapshot(server);
    const failed = await cli(
      "model",
      "validate",
      "shapes",
      "1",
      "--snapshot",
      snapshot,
      "--metric",
      "accuracy=0.8",
    );
    expect(failed.stdout).toContain("FAILED");
    expect(failed.code).toBe(5);
    expect(failed.stdout).toContain("below the minimum 0.9");
    const passed = await cli(
      "model",
      "validate",
      "shapes",
      "1",
      "--snapshot",
      snapshot,
      "--metric",
      "accuracy=0.93",
    );
    expect(passed.stdout).toContain("PASSED");
    expect(passed.code).toBe(0);
    const promoted = await cli("model", "promote", "shapes", "1", "--reason", "ship it");
    expect(promoted.code, promoted.stderr).toBe(0);
    expect(promoted.stdout).toContain("staging -> production");

    expect((await cli("model", "alias", "shapes", "champion", "1")).code).toBe(0);
    const history = await cli("model", "history", "shapes", "--json");
    const transitions = JSON.parse(history.stdout) as Array<{
      toStage: string;
      actor: string;
      reason: string;
      evidence: string | null;
    }>;
    expect(transitions.map((t) => t.toStage)).toEqual(["staging", "production"]);
    expect(transitions[1]).toMatchObject({ actor: "admin", reason: "ship it" });
    expect(transitions[1].evidence).toBeTruthy();
    const human = await cli("model", "show", "shapes");
    expect(human.stdout).toMatch(/1\s+production\s+champion/);
    expect((await cli("model", "show", "nope")).code).toBe(4);
  });
});
