import { readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/processes.js";

/** The files `npm run build` compiles into dist/ (tsconfig.build.json's include minus exclude). */
function buildRoots(): string[] {
  const configFile = path.join(REPO_ROOT, "tsconfig.build.json");
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (!parsed) throw new Error("tsconfig.build.json did not parse");
  return parsed.fileNames.map((f) => path.relative(REPO_ROOT, f));
}

describe("what ships in dist/", () => {
  const roots = buildRoots();

  it("is the source tree without tests, test harnesses or benchmark helpers", () => {
    expect(roots.length).toBeGreaterThan(100);
    expect(roots).toContain(path.join("src", "main.ts"));
    expect(roots.filter((f) => /\.test\.ts$|(^|\/)(test|bench)-[^/]*\.ts$|fixture/.test(f))).toEqual([]);
    // Moved to test/support/: they served only tests and benchmarks.
    for (const helper of [
      "runtime/local/test-harness.ts",
      "serving/runner/bench-helpers.ts",
      "jobs/synthetic-queue.ts",
    ]) {
      expect(roots).not.toContain(path.join("src", helper));
    }
  });

  it("never imports test or benchmark code", () => {
    const offenders = roots.filter((f) =>
      /from\s+["'](\.\.\/)+(test|bench)\//.test(readFileSync(path.join(REPO_ROOT, f), "utf8")),
    );
    expect(offenders).toEqual([]);
  });
});
