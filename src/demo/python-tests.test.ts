/** Runs the Python unit tests (SDK and training example) with the machine's Python, so CI runs them too. */
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const PYTHON = process.env.MLOPS_PYTHON ?? "/usr/bin/python3";

function unittest(cwd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    for (const key of [
      "MLOPS_API_URL",
      "MLFLOW_TRACKING_URI",
      "MLOPS_RUN_ID",
      "MLFLOW_RUN_ID",
      "MLOPS_TOKEN",
    ]) {
      delete env[key];
    }
    execFile(
      PYTHON,
      // -v names each test as it starts, so a run killed at the timeout still shows which one hung.
      ["-m", "unittest", "discover", "-v", ...args],
      { cwd, env, timeout: 240_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

describe("python unit tests", () => {
  it("sdk/python passes", async () => {
    const { code, output } = await unittest(path.resolve("sdk/python"), ["-s", "tests", "-t", "."]);
    expect(output).toMatch(/Ran \d+ tests/);
    expect(code, output).toBe(0);
  }, 300_000);

  it("examples/vision-classifier passes", async () => {
    const { code, output } = await unittest(path.resolve("examples/vision-classifier"), [
      "-s",
      ".",
      "-p",
      "test_*.py",
    ]);
    expect(output).toMatch(/Ran \d+ tests/);
    expect(code, output).toBe(0);
  }, 300_000);
});
