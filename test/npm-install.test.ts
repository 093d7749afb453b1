import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/processes.js";

/**
 * `npm ci` on the supported Node (package.json engines: >=20) installs without warnings a new user would
 * trip over: no EBADENGINE (a dependency that needs a newer Node; pinned in package.json `overrides`), no
 * `Unknown project config` (onnxruntime-node's install switch is an environment variable, README.md).
 */
describe("npm install on this Node (docs: README.md#development)", () => {
  it("npm ci warns about neither engines nor unknown config", () => {
    const result = spawnSync("npm", ["ci", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    const output = `${result.stdout}${result.stderr}`;
    expect(result.status, output).toBe(0);
    const engines = [...output.matchAll(/EBADENGINE\s+package: '([^']+)'/g)].map((m) => m[1]);
    expect([...new Set(engines)]).toEqual([]);
    expect(output).not.toMatch(/Unknown (project|env|user|global) config/);
  });

  it("the install scripts skip onnxruntime-node's CUDA download through its own variable", () => {
    expect(readFileSync(path.join(REPO_ROOT, ".npmrc"), "utf8")).not.toMatch(/onnxruntime/);
    expect(readFileSync(path.join(REPO_ROOT, ".ci", "run"), "utf8")).toMatch(
      /^export ONNXRUNTIME_NODE_INSTALL=skip$/m,
    );
    expect(readFileSync(path.join(REPO_ROOT, "scripts", "ensure-installed.mjs"), "utf8")).toMatch(
      /ONNXRUNTIME_NODE_INSTALL: "skip"/,
    );
  });
});
