import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { ApiClient } from "./client.js";
import { readCredentials } from "./credentials.js";

/** What every command gets: the environment (read once by the entry point) and how to reach the server. */
export interface CliContext {
  env: Record<string, string | undefined>;
  configDir: string;
  cwd: string;
  /** Client for the server: MLOPS_URL/MLOPS_TOKEN override the stored login. */
  client(): ApiClient;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function createContext(env: Record<string, string | undefined>, cwd = process.cwd()): CliContext {
  const configDir =
    env.MLOPS_CONFIG_DIR ?? path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), ".config"), "mlops");
  return {
    env,
    configDir,
    cwd,
    client() {
      const stored = readCredentials(configDir);
      const url = env.MLOPS_URL ?? stored?.url;
      const token = env.MLOPS_TOKEN ?? stored?.token;
      if (!url)
        throw new CliError(
          "not logged in: run `mlops login --url URL --token TOKEN` or set MLOPS_URL and MLOPS_TOKEN",
          3,
        );
      return new ApiClient({ url, token });
    },
  };
}

/** Options of a command merged with the global ones (--json). */
export function optionsOf<T extends object>(command: Command): T & { json?: boolean } {
  return command.optsWithGlobals() as T & { json?: boolean };
}
