import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer } from "../../main.js";
import { consoleReporter, silentReporter } from "./reporter.js";
import { DEMO_SCALE, FAST_SCALE } from "./scales.js";
import { runClosedLoop } from "./scenario.js";
import { printSummary } from "./summary.js";
import { demoVerdict } from "./verdict.js";

export interface DemoOptions {
  fast: boolean;
  json: boolean;
  keep: boolean;
  /** Interpreter for training jobs (MLOPS_PYTHON); default: the first Python that imports torch. */
  python?: string;
}

/**
 * `mlops demo`: a fresh platform in this process (temp data dir, SQLite, a free port), the closed loop run
 * against it (scenario.ts), a summary, and everything removed again (unless --keep).
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-demo-"));
  const token = `mlops_demo-${randomBytes(16).toString("hex")}`;
  const report = options.json ? silentReporter() : consoleReporter();
  const scale = options.fast ? FAST_SCALE : DEMO_SCALE;
  if (!options.json)
    process.stdout.write(`mlops demo: a fresh platform in ${dataDir} (SQLite), the whole retraining loop\n`);
  const server = await startServer({
    env: {
      MLOPS_ADMIN_TOKEN: token,
      MLOPS_LOG_LEVEL: "error",
      ...(options.python ? { MLOPS_PYTHON: options.python } : {}),
    },
    flags: { port: 0, dataDir, host: "127.0.0.1" },
    logger: false,
  });
  try {
    if (!options.json) process.stdout.write(`platform at ${server.url}\n`);
    const summary = await runClosedLoop({ platform: server.platform, url: server.url, token }, scale, report);
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({ ...summary, verdict: demoVerdict(summary), dataDir: options.keep ? dataDir : null }, null, 2)}\n`,
      );
    else {
      printSummary(summary);
      if (options.keep) process.stdout.write(`data dir kept: ${dataDir}\n`);
    }
  } finally {
    await server.close();
    if (!options.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}
