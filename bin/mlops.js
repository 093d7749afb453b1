#!/usr/bin/env node
// The `mlops` command. Runs the compiled CLI (built by `npm install`/`npm start`); falls back to the
// TypeScript sources through tsx in a development checkout that has not been built yet.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "cli", "main.js");
let entry = compiled;
if (!existsSync(compiled)) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = join(root, "src", "cli", "main.ts");
}
const { runCli, exitQuietlyOnBrokenPipe } = await import(pathToFileURL(entry).href);
// `mlops ... | head -1`: exit quietly once the reader has gone (optional: a dist/ built before it lacks it).
exitQuietlyOnBrokenPipe?.();
const code = await runCli(process.argv.slice(2), process.env);
if (code !== 0) process.exit(code);
