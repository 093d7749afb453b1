import { readdirSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * `npm run bench [part ...]`: runs every benchmark part (`bench/<part>.ts`, each exporting
 * `run(args: string[]): Promise<void>`), or only the named ones. Files starting with `_` are helpers.
 * Each part prints its figures next to a baseline measured in the same run, as ratios.
 */
const dir = import.meta.dirname;
const parts = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.startsWith("_"))
  .map((f) => f.replace(/\.ts$/, ""))
  .sort();

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const unknown = wanted.filter((w) => !parts.includes(w));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark part(s): ${unknown.join(", ")}; available: ${parts.join(", ")}\n`);
  process.exit(2);
}
const selected = wanted.length > 0 ? wanted : parts;
for (const part of selected) {
  process.stdout.write(`\n=== bench: ${part} ===\n`);
  const module = (await import(pathToFileURL(path.join(dir, `${part}.ts`)).href)) as {
    run(args: string[]): Promise<void>;
  };
  await module.run(process.argv.slice(2).filter((a) => a.startsWith("-")));
}
