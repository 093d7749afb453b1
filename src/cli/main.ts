import { Command, CommanderError } from "commander";
import { isDomainError } from "../errors.js";
import { exitQuietlyOnBrokenPipe } from "./broken-pipe.js";
import { ApiError, ConnectionError } from "./client.js";
import { registerAuditCommand } from "./commands/audit.js";
import { registerAuthCommands } from "./commands/auth.js";
import { registerBatchCommands } from "./commands/batch.js";
import { registerDataCommands } from "./commands/data.js";
import { registerDemoCommands } from "./commands/demo.js";
import { registerPipelineCommands } from "./commands/pipelines.js";
import { registerDeployCommands } from "./commands/deploy.js";
import { registerIdentityCommands } from "./commands/identity.js";
import { registerJobCommands } from "./commands/jobs.js";
import { registerModelCommands } from "./commands/models.js";
import { registerServerCommand } from "./commands/server.js";
import { registerTrackingCommands } from "./commands/tracking.js";
import { registerWorkspaceCommands } from "./commands/workspaces.js";
import { CliError, type CliContext, createContext } from "./context.js";

export { exitQuietlyOnBrokenPipe };

/** Exit codes: 0 ok, 1 failure, 2 usage, 3 not authenticated/allowed, 4 not found, 5 conflict/refused, 6 server unreachable. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof ConnectionError) return 6;
  const status = err instanceof ApiError ? err.status : isDomainError(err) ? err.status : 0;
  if (status === 401 || status === 403) return 3;
  if (status === 404) return 4;
  if (status === 409 || status === 422) return 5;
  if (status === 400 || status === 413) return 2;
  return 1;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command("mlops")
    .description("mlops-platform: experiments, models, GPU jobs, serving and retraining for vision teams")
    // `-V` only: `--version N` is a subcommand option (deploy create/canary, predict, model history);
    // `mlops --version` as the first argument still prints the version (runCli maps it to -V).
    .version("0.1.0", "-V")
    .option("--json", "machine-readable JSON output")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerServerCommand(program, ctx);
  registerAuthCommands(program, ctx);
  registerIdentityCommands(program, ctx);
  registerAuditCommand(program, ctx);
  registerJobCommands(program, ctx);
  registerModelCommands(program, ctx);
  registerDataCommands(program, ctx);
  registerPipelineCommands(program, ctx);
  registerDemoCommands(program, ctx);
  registerDeployCommands(program, ctx);
  registerBatchCommands(program, ctx);
  registerTrackingCommands(program, ctx);
  registerWorkspaceCommands(program, ctx);
  return program;
}

export async function runCli(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const program = buildProgram(createContext(env));
  try {
    await program.parseAsync(argv[0] === "--version" ? ["-V", ...argv.slice(1)] : argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0
        ? 0
        : 2;
    }
    const message = (err as Error).message ?? String(err);
    process.stderr.write(`error: ${message.split("\n")[0]}\n`);
    return exitCodeFor(err);
  }
}

const isEntry = process.argv[1] && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  exitQuietlyOnBrokenPipe();
  runCli(process.argv.slice(2), process.env).then((code) => {
    // `server` keeps running; other commands end here.
    if (code !== 0 || !process.argv.slice(2).includes("server")) process.exitCode = code;
  });
}
