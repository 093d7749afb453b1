import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { SUPERVISOR_SOURCE } from "./supervisor-script.js";

/** Writes the supervisor script into the state dir (once per version) and returns its path. */
export function installSupervisorScript(stateDir: string): string {
  const file = path.join(stateDir, "supervisor.cjs");
  try {
    if (readFileSync(file, "utf8") === SUPERVISOR_SOURCE) return file;
  } catch {
    // Not there yet.
  }
  // Write and rename: a control plane starting while another runs never exposes a half-written script.
  writeFileSync(`${file}.tmp`, SUPERVISOR_SOURCE, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}

export interface SupervisorProcess {
  child: ChildProcess;
  /** Settles when the supervisor has ended (or could not be spawned). */
  closed: Promise<void>;
  /** The workload's pid from the supervisor's one line, or null when it ended without one. */
  pid: Promise<number | null>;
}

export function spawnSupervisor(nodePath: string, scriptPath: string, replicaDir: string): SupervisorProcess {
  const logFile = path.join(replicaDir, "supervisor.log");
  const logFd = openSync(logFile, "a", 0o600);
  let child: ChildProcess;
  try {
    // Detached: its own session, so that neither a control-plane crash nor a terminal's ^C reaches it.
    // An empty environment: nothing of the control plane's (tokens, database URLs) leaks into it.
    child = spawn(nodePath, [scriptPath, replicaDir], {
      detached: true,
      stdio: ["ignore", "pipe", logFd],
      env: {},
    });
  } finally {
    closeSync(logFd);
  }
  // 'close' comes after the supervisor's exit and its pipe's end; 'error' alone when it cannot be spawned.
  const closed = new Promise<void>((resolve) => {
    child.once("close", () => resolve());
    child.once("error", (error) => {
      writeFileSync(logFile, `cannot start the supervisor: ${error.message}\n`, { flag: "a" });
      resolve();
    });
  });
  const pid = new Promise<number | null>((resolve) => {
    let buffered = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      resolve((JSON.parse(buffered.slice(0, newline)) as { pid: number }).pid);
      // Nothing more comes; and a dead control plane must not leave the supervisor a pipe to fill.
      child.stdout!.destroy();
    });
    void closed.then(() => resolve(null));
  });
  return { child, closed, pid };
}
