import { execFile } from "node:child_process";

export interface PythonInterpreter {
  /** As given in the candidates (a path, or a name looked up on PATH). */
  path: string;
  torchVersion: string;
}

/** Where to look, in order: the configured interpreter, the system one, then whatever PATH finds first. */
export function defaultPythonCandidates(configured?: string): string[] {
  return [...(configured ? [configured] : []), "/usr/bin/python3", "python3"];
}

/**
 * The first candidate that can `import torch`. A configured interpreter is only a candidate here: the
 * caller decides whether one that lacks torch is an error (for training jobs) or just a warning.
 */
export async function findPythonWithTorch(
  candidates: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<PythonInterpreter | null> {
  for (const candidate of candidates) {
    const version = await torchVersion(candidate, options.timeoutMs ?? 60_000);
    if (version !== null) return { path: candidate, torchVersion: version };
  }
  return null;
}

function torchVersion(python: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(
      python,
      ["-c", "import torch; print(torch.__version__)"],
      { timeout: timeoutMs },
      (error, stdout) => {
        resolve(error ? null : stdout.trim() || null);
      },
    );
  });
}
