import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { postgresRequired } from "./support/databases.js";
import { REPO_ROOT } from "./support/processes.js";

const UNREACHABLE = "postgres://postgres@127.0.0.1:1/test";

/** Runs the fixture suite in its own vitest process against an unreachable PostgreSQL. */
function runFixture(extraEnv: Record<string, string>): { status: number | null; output: string } {
  const vitest = path.join(REPO_ROOT, "node_modules", "vitest", "vitest.mjs");
  const result = spawnSync(
    process.execPath,
    [vitest, "run", "--config", "test/fixtures/databases/vitest.config.ts", "--reporter", "verbose"],
    {
      cwd: REPO_ROOT,
      // No CI / MLOPS_REQUIRE_POSTGRES from this process: each case sets what it means.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TEST_DATABASE_URL: UNREACHABLE, ...extraEnv },
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the reporter's colours
  const output = `${result.stdout}${result.stderr}`.replace(/\u001b\[[0-9;]*m/g, "");
  return { status: result.status, output };
}

describe("describeEachDatabase without PostgreSQL (docs: README.md#development)", () => {
  it("outside CI: the PostgreSQL half is skipped, its hooks never run, the SQLite half passes", () => {
    const { status, output } = runFixture({});
    expect(output).toMatch(/1 passed/);
    expect(output).toMatch(/1 skipped/);
    expect(output).toContain(`PostgreSQL at ${UNREACHABLE} is not reachable: skipped outside CI`);
    expect(output).not.toMatch(/ECONNREFUSED/);
    expect(status, output).toBe(0);
  });

  it("under CI=true: the PostgreSQL half fails with one clear message", () => {
    const { status, output } = runFixture({ CI: "true" });
    expect(status).not.toBe(0);
    expect(output).toContain(`PostgreSQL is not reachable at ${UNREACHABLE}`);
    expect(output).toMatch(/1 failed/);
    expect(output).toMatch(/1 passed/);
  });

  it("MLOPS_REQUIRE_POSTGRES=1 requires it too; CI=false does not", () => {
    expect(postgresRequired({ CI: "true" })).toBe(true);
    expect(postgresRequired({ MLOPS_REQUIRE_POSTGRES: "1" })).toBe(true);
    expect(postgresRequired({ CI: "false" })).toBe(false);
    expect(postgresRequired({})).toBe(false);
  });
});
