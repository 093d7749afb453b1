import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A private, real Slurm cluster for one test file: slurmctld + one slurmd (22.05, Debian's slurm-wlm)
 * on this host with a generated slurm.conf on its own ports, its own munged (own key and socket, so
 * nothing of the host's munge is touched), and GPUs declared through gres.conf on character devices made
 * with mknod (Slurm refuses regular files; the devices are /dev/null's major/minor, so nothing real is
 * behind them: the GPUs are fake, Slurm's bookkeeping of them is real). Needs root (mknod, SlurmUser=root).
 */
export interface SlurmCluster {
  /** Temp dir holding config, state, logs and the shared work dir. */
  dir: string;
  /** slurm.conf path (MLOPS_SLURM_CONF / SLURM_CONF). */
  conf: string;
  /** A directory every "node" sees at the same path (MLOPS_SLURM_WORK_DIR). */
  workDir: string;
  /** The first node (this host's name). */
  nodeName: string;
  /** Every node's name (a second one is `<host>-2`). */
  nodeNames: string[];
  partition: string;
  gpuType: string;
  gpus: number;
  /** Runs a Slurm CLI tool against this cluster. */
  cli(tool: string, args: string[]): Promise<string>;
  /** Ids of jobs squeue still shows (any state). */
  queuedJobIds(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface SlurmClusterOptions {
  gpus?: number;
  gpuType?: string;
  /** CPUs the node declares (more than the host has is fine: config_overrides). */
  cpus?: number;
  memoryMiB?: number;
  /** Slurm nodes (default 1). A second one is a second slurmd on this host (`slurmd -N`, own port). */
  nodes?: 1 | 2;
}

const TOOLS = ["slurmctld", "slurmd", "munged", "sbatch", "srun", "squeue", "scancel", "scontrol", "sinfo"];

/** Why a cluster cannot start here (missing tools, not root), or null. */
export function slurmUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return "the Slurm test cluster needs root (mknod, SlurmUser=root)";
  const dirs = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  const missing = TOOLS.filter((tool) => !dirs.some((dir) => existsSync(path.join(dir, tool))));
  return missing.length > 0 ? `missing ${missing.join(", ")} (apt-get install slurm-wlm munge)` : null;
}

export async function startSlurmCluster(options: SlurmClusterOptions = {}): Promise<SlurmCluster> {
  const reason = slurmUnavailableReason();
  if (reason) throw new Error(`cannot start a Slurm cluster: ${reason}`);
  const gpus = options.gpus ?? 4;
  const gpuType = options.gpuType ?? "h100";
  const dir = await mkdtemp(path.join(os.tmpdir(), "mlops-slurm-"));
  await chmod(dir, 0o755); // the job user (nobody) traverses it to the shared work dir and munge socket
  const nodeName = os.hostname().split(".")[0];
  const nodeNames = options.nodes === 2 ? [nodeName, `${nodeName}-2`] : [nodeName];
  const partition = "gpu";
  const env = { ...process.env, SLURM_CONF: path.join(dir, "slurm.conf") };
  const cli = async (tool: string, args: string[]) =>
    (await run(tool, args, { env, timeout: 20_000, maxBuffer: 16 * 1024 * 1024 })).stdout;
  const pids: Array<{ name: string; file: string }> = [];
  const cluster: SlurmCluster = {
    dir,
    conf: env.SLURM_CONF,
    workDir: path.join(dir, "shared"),
    nodeName,
    nodeNames,
    partition,
    gpuType,
    gpus,
    cli,
    queuedJobIds: async () =>
      (await cli("squeue", ["-h", "-o", "%i"]))
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean),
    stop: () => stopCluster(cluster, pids),
  };
  try {
    for (const sub of ["munge", "state", "spool", "log", "dev", "shared"]) {
      await mkdir(path.join(dir, sub), { recursive: true, mode: 0o755 });
    }
    await chmod(path.join(dir, "shared"), 0o1777);
    const key = path.join(dir, "munge", "munge.key");
    await writeFile(key, randomBytes(1024), { mode: 0o400 });
    const socket = path.join(dir, "munge", "munge.sock");
    const mungePid = path.join(dir, "munge", "munged.pid");
    await run("munged", [
      "--force",
      `--key-file=${key}`,
      `--socket=${socket}`,
      `--pid-file=${mungePid}`,
      `--log-file=${path.join(dir, "log", "munged.log")}`,
      `--seed-file=${path.join(dir, "munge", "munged.seed")}`,
    ]);
    pids.push({ name: "munged", file: mungePid });
    let gres = "";
    for (const node of nodeNames) {
      await mkdir(path.join(dir, "dev", node), { recursive: true });
      for (let n = 0; n < gpus; n++)
        await run("mknod", [path.join(dir, "dev", node, `nvidia${n}`), "c", "1", "3"]);
      if (gpus > 0)
        gres += `NodeName=${node} Name=gpu Type=${gpuType} File=${dir}/dev/${node}/nvidia[0-${gpus - 1}]\n`;
    }
    await writeFile(path.join(dir, "gres.conf"), gres);
    const ctldPort = await freePort();
    const nodePorts: number[] = [];
    for (const _ of nodeNames) nodePorts.push(await freePort());
    await writeFile(
      env.SLURM_CONF,
      slurmConf({ dir, nodeNames, nodePorts, partition, gpuType, gpus, ctldPort, socket, options }),
    );
    await run("slurmctld", ["-i"], { env });
    pids.push({ name: "slurmctld", file: path.join(dir, "slurmctld.pid") });
    for (const node of nodeNames) {
      await run("slurmd", ["-N", node], { env });
      pids.push({ name: "slurmd", file: path.join(dir, `slurmd-${node}.pid`) });
    }
    await waitForIdle(cli, dir, nodeNames.length);
    return cluster;
  } catch (err) {
    await stopCluster(cluster, pids);
    throw err;
  }
}

function slurmConf(c: {
  dir: string;
  nodeNames: string[];
  nodePorts: number[];
  partition: string;
  gpuType: string;
  gpus: number;
  ctldPort: number;
  socket: string;
  options: SlurmClusterOptions;
}): string {
  const gres = c.gpus > 0 ? ` Gres=gpu:${c.gpuType}:${c.gpus}` : "";
  return `${[
    `ClusterName=mlops${c.ctldPort}`,
    `SlurmctldHost=${c.nodeNames[0]}(127.0.0.1)`,
    `SlurmctldPort=${c.ctldPort}`,
    `SlurmdPort=${c.nodePorts[0]}`,
    "SlurmUser=root",
    "SlurmdUser=root",
    "AuthType=auth/munge",
    "CredType=cred/munge",
    `AuthInfo=socket=${c.socket}`,
    `StateSaveLocation=${c.dir}/state`,
    `SlurmdSpoolDir=${c.dir}/spool/%n`,
    `SlurmctldPidFile=${c.dir}/slurmctld.pid`,
    `SlurmdPidFile=${c.dir}/slurmd-%n.pid`,
    `SlurmctldLogFile=${c.dir}/log/slurmctld.log`,
    `SlurmdLogFile=${c.dir}/log/slurmd-%n.log`,
    // No cgroups in the test container: processes are tracked by parent pid, nothing is confined.
    "ProctrackType=proctrack/linuxproc",
    "TaskPlugin=task/none",
    "SchedulerType=sched/backfill",
    "SchedulerParameters=sched_interval=1",
    "SelectType=select/cons_tres",
    "SelectTypeParameters=CR_Core_Memory",
    "SlurmdParameters=config_overrides",
    "GresTypes=gpu",
    "MpiDefault=none",
    "ReturnToService=2",
    "KillWait=2",
    "MinJobAge=600",
    "JobAcctGatherType=jobacct_gather/linux",
    "JobAcctGatherFrequency=1",
    // No slurmdbd: sacct has nothing; the backend's exit records and `scontrol show job` are the truth.
    "AccountingStorageType=accounting_storage/none",
    "JobCompType=jobcomp/none",
    // Every node is a slurmd on this host, told apart by its port (`slurmd -N <name>`).
    ...c.nodeNames.map(
      (node, i) =>
        `NodeName=${node} NodeHostname=${c.nodeNames[0]} NodeAddr=127.0.0.1 Port=${c.nodePorts[i]} CPUs=${c.options.cpus ?? 8} RealMemory=${c.options.memoryMiB ?? 16000}${gres} State=UNKNOWN`,
    ),
    `PartitionName=${c.partition} Nodes=${c.nodeNames.join(",")} Default=YES MaxTime=INFINITE State=UP`,
  ].join("\n")}\n`;
}

async function waitForIdle(cli: SlurmCluster["cli"], dir: string, nodes: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      last = (await cli("sinfo", ["-h", "-N", "-o", "%t"])).trim();
      if (last === Array(nodes).fill("idle").join("\n")) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const logs = await readFile(path.join(dir, "log", "slurmctld.log"), "utf8").catch(() => "");
  throw new Error(
    `Slurm node did not become idle (last: ${last}); slurmctld log tail:\n${logs.slice(-2000)}`,
  );
}

async function stopCluster(
  cluster: SlurmCluster,
  pids: Array<{ name: string; file: string }>,
): Promise<void> {
  try {
    for (const id of await cluster.queuedJobIds())
      await cluster.cli("scancel", ["--signal=KILL", "--full", id]);
  } catch {
    // slurmctld may not have started; the daemons are killed below either way
  }
  for (const { file } of [...pids].reverse()) {
    const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
    if (!Number.isInteger(pid) || pid <= 0) continue;
    await killAndWait(pid);
  }
  await rm(cluster.dir, { recursive: true, force: true });
}

async function killAndWait(pid: number): Promise<void> {
  // A daemon reparented to an init that does not reap stays a zombie: that is gone, too.
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 5_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, "SIGKILL");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
