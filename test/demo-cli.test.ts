/** `mlops demo` is mounted with its `data` subcommand; the full loop itself is test/pipeline-loop.test.ts. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";

describe("mlops demo", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "mlops-demo-cli-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("documents the loop options and still writes the data set with `demo data`", async () => {
    const help = await runCliProcess(["demo", "--help"], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--fast/);
    expect(help.stdout).toMatch(/data/);
    const out = path.join(dir, "shapes");
    const result = await runCliProcess(
      ["demo", "data", "--out", out, "--count", "9", "--seed", "3", "--json"],
      {},
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ count: 9, classes: ["circle", "square", "triangle"] });
    expect(existsSync(path.join(out, "labels.json"))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(out, "labels.json"), "utf8"))).toHaveLength(9);
  }, 60_000);
});
