import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/processes.js";

const SKIPPED = new Set(["node_modules", "dist", "__pycache__", ".mlops", "fixtures"]);

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory() && !SKIPPED.has(entry.name)) found.push(...sourceFiles(relative));
    else if (entry.isFile() && /\.(ts|mjs|py|md)$/.test(entry.name)) found.push(relative);
  }
  return found;
}

const files = ["src", "test", "bench", "sdk", "examples", "scripts", "docs"]
  .flatMap(sourceFiles)
  .concat("README.md")
  .filter((f) => f !== path.join("test", "docs-citations.test.ts"));

describe("what code comments cite exists in the repository (docs/)", () => {
  it("no comment cites the SPEC, a document that is not in the repository", () => {
    const offenders = files.filter((f) =>
      /\bSPEC (§|section)/.test(readFileSync(path.join(REPO_ROOT, f), "utf8")),
    );
    expect(offenders).toEqual([]);
  });

  it("every docs/*.md a file cites is there", () => {
    const missing: string[] = [];
    for (const f of files) {
      for (const [cited] of readFileSync(path.join(REPO_ROOT, f), "utf8").matchAll(
        /\bdocs\/[\w./-]+\.md\b/g,
      )) {
        if (!existsSync(path.join(REPO_ROOT, cited))) missing.push(`${f}: ${cited}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});
