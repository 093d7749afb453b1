import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

/**
 * CLI start-up: wall time of `node bin/mlops.js --help` and `--version` (commands that touch no server),
 * p50 over N runs, next to the baseline `node -e 0` measured in the same run. Uses dist/ (`npm run build`).
 * No target yet: the figure is reported so that start-up regressions show (docs/performance-targets.md).
 */
const RUNS = 15;
const root = path.join(import.meta.dirname, "..");

function p50(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    times.push(performance.now() - t0);
    if (result.status !== 0) {
      throw new Error(
        `node ${args.join(" ")} exited ${result.status}: ${result.stderr.toString().slice(0, 300)}`,
      );
    }
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function run(): Promise<void> {
  if (!existsSync(path.join(root, "dist"))) {
    process.stdout.write("cli: dist/ is missing: run `npm run build` first\n");
    return;
  }
  const base = p50(["-e", "0"]);
  process.stdout.write(
    `\nCLI start-up, p50 of ${RUNS} runs\n  baseline: node -e 0   ${base.toFixed(1)} ms\n`,
  );
  for (const args of [["--help"], ["--version"]]) {
    const ms = p50(["bin/mlops.js", ...args]);
    process.stdout.write(
      `  mlops ${args.join(" ")}: ${ms.toFixed(1)} ms (+${(ms - base).toFixed(1)} ms over node, ` +
        `${(ms / base).toFixed(2)}x baseline)\n`,
    );
  }
}
