import { execFile } from "node:child_process";
import path from "node:path";

/**
 * Runs the Slurm command-line tools of the login node the control plane runs on (see
 * docs/design-decisions.md, "Slurm: CLI tools vs slurmrestd"). The environment is fixed and small: the
 * control plane's own variables (database URL, tokens) never reach Slurm, which would copy them into jobs.
 */
export interface SlurmCliOptions {
  /** Directory of sbatch/squeue/...; unset: looked up on PATH. */
  binDir?: string;
  /** slurm.conf (SLURM_CONF); unset: the system's. */
  conf?: string;
  timeoutMs?: number;
}

export class SlurmCommandError extends Error {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly stderr: string,
    cause: string,
  ) {
    super(`${tool} ${args.join(" ")} failed: ${stderr.trim() || cause}`);
  }
}

export class SlurmCli {
  private readonly env: Record<string, string>;

  constructor(private readonly options: SlurmCliOptions = {}) {
    this.env = {
      PATH: [options.binDir, "/usr/local/bin", "/usr/bin", "/bin"].filter(Boolean).join(":"),
      LANG: "C",
      ...(options.conf ? { SLURM_CONF: options.conf } : {}),
    };
  }

  /** A tool's path as the batch script on the nodes calls it. */
  tool(name: string): string {
    return this.options.binDir ? path.join(this.options.binDir, name) : name;
  }

  run(tool: string, args: readonly string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.tool(tool),
        [...args],
        { env: this.env, timeout: this.options.timeoutMs ?? 30_000, maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new SlurmCommandError(tool, args, String(stderr), err.message));
          else resolve(String(stdout));
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Submits a batch script; returns the Slurm job id. */
  async sbatch(args: readonly string[], scriptPath: string): Promise<string> {
    const out = (await this.run("sbatch", ["--parsable", ...args, scriptPath])).trim();
    const jobId = out.split(";")[0];
    if (!/^\d+$/.test(jobId)) throw new Error(`sbatch printed no job id: '${out}'`);
    return jobId;
  }

  /** All states squeue still knows (incl. recently ended ones, within MinJobAge) for these jobs. */
  async squeue(jobIds: readonly string[]): Promise<string> {
    if (jobIds.length === 0) return "";
    try {
      return await this.run("squeue", ["-h", "-t", "all", "-o", "%i|%T|%r", "-j", jobIds.join(",")]);
    } catch (err) {
      // A single purged id makes squeue fail ("Invalid job id"); then ask for all jobs and filter.
      if (err instanceof SlurmCommandError && /Invalid job id/i.test(err.stderr)) {
        return this.run("squeue", ["-h", "-t", "all", "-o", "%i|%T|%r"]);
      }
      throw err;
    }
  }

  scancel(jobId: string, options: { signal?: string; full?: boolean } = {}): Promise<string> {
    const args = [
      ...(options.signal ? [`--signal=${options.signal}`] : []),
      ...(options.full ? ["--full"] : []),
      jobId,
    ];
    return this.run("scancel", args);
  }

  showNodes(): Promise<string> {
    return this.run("scontrol", ["show", "node", "-o"]);
  }

  /** `scontrol show job -o`; null once Slurm has forgotten the job. */
  async showJob(jobId: string): Promise<string | null> {
    try {
      return await this.run("scontrol", ["show", "job", "-o", jobId]);
    } catch (err) {
      if (err instanceof SlurmCommandError && /Invalid job id/i.test(err.stderr)) return null;
      throw err;
    }
  }

  /** Step statistics of a running job (needs a JobAcctGather plugin on the cluster). */
  sstat(jobStep: string): Promise<string> {
    return this.run("sstat", ["-n", "-P", "-j", jobStep, "--format=JobID,AveCPU,AveRSS,NTasks"]);
  }
}
