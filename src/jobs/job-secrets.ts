import { InputError } from "../errors.js";
import { reservedEnvNames } from "./workload-env.js";

/**
 * Write-only environment values of a job (`secretEnv`, `--secret-env`; docs/security.md): accepted at
 * submit, stored apart from the job, read only by the launcher, never part of any job view, and masked
 * in the job's logs. Plain `env` stays visible to the project's viewers.
 */
export interface JobSecretEnvStore {
  put(jobId: string, env: Readonly<Record<string, string>>): Promise<void>;
  get(jobId: string): Promise<Record<string, string>>;
  /** Once the job has ended no attempt needs them: they are not kept. */
  remove(jobId: string): Promise<void>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_SECRETS = 100;

/** Checks a submitted `secretEnv`: valid names, not the platform's, not also in plain `env`. */
export function validateSecretEnv(
  secretEnv: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string>>,
): Record<string, string> {
  const entries = Object.entries(secretEnv);
  if (entries.length > MAX_SECRETS) throw new InputError(`at most ${MAX_SECRETS} secret env values`);
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw new InputError(`invalid secret environment variable name '${name}'`);
    if (typeof value !== "string")
      throw new InputError(`secret environment variable ${name} must be a string`);
    if (value.includes("\0")) throw new InputError(`secret environment variable ${name} contains a NUL byte`);
    if (name in env) throw new InputError(`${name} is given both as env and as secretEnv`);
  }
  const reserved = reservedEnvNames(secretEnv as Record<string, string>);
  if (reserved.length > 0)
    throw new InputError(`environment variable(s) ${reserved.join(", ")} are set by the platform`);
  return Object.fromEntries(entries) as Record<string, string>;
}
