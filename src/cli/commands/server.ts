import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerServerCommand(program: Command, ctx: CliContext): void {
  program
    .command("server")
    .description("start the control plane (API, scheduler, serving) with embedded defaults")
    .option("--host <host>", "address to listen on (MLOPS_HOST, default 127.0.0.1)")
    .option("--port <port>", "port (MLOPS_PORT, default 8080)")
    .option("--data-dir <dir>", "data directory (MLOPS_DATA_DIR, default ./.mlops)")
    .option("--database-url <url>", "postgres://... (DATABASE_URL; default: SQLite in the data dir)")
    .option("--public-url <url>", "URL clients and workloads use (MLOPS_PUBLIC_URL)")
    .option("--gpus <spec>", 'declared GPUs when nvidia-smi finds none, e.g. "h100:4" (MLOPS_GPUS)')
    .option("--python <path>", "Python interpreter for workloads (MLOPS_PYTHON)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|silent (MLOPS_LOG_LEVEL)")
    .option("--config <file>", "JSON config file (MLOPS_CONFIG)")
    .action(async (opts: Record<string, string | undefined>) => {
      // Loaded on demand: the client commands stay light.
      const { startServer } = await import("../../main.js");
      await startServer({
        env: ctx.env,
        file: opts.config ?? ctx.env.MLOPS_CONFIG,
        flags: {
          host: opts.host,
          port: opts.port,
          dataDir: opts.dataDir,
          databaseUrl: opts.databaseUrl,
          publicUrl: opts.publicUrl,
          gpus: opts.gpus,
          python: opts.python,
          logLevel: opts.logLevel,
        },
        handleSignals: true,
        banner: true,
      });
      // The process now lives until a signal arrives.
    });
}
