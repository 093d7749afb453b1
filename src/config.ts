import { readFileSync } from "node:fs";
import path from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { InputError } from "./errors.js";

/**
 * The one configuration schema. Parsed once at start-up (flags > environment > file > defaults);
 * everything else receives the parsed object as an argument. No other module reads process.env.
 */
export const ConfigSchema = Type.Object({
  host: Type.String({ default: "127.0.0.1" }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  dataDir: Type.String({ default: "./.mlops" }),
  /** Unset: SQLite file in the data dir. `postgres://...`: PostgreSQL. */
  databaseUrl: Type.Optional(Type.String()),
  /** PostgreSQL schema to use (created if missing). */
  databaseSchema: Type.String({ default: "public" }),
  /** The initial admin token, for automation. */
  adminToken: Type.Optional(Type.String({ minLength: 16 })),
  /** Public URL of this server, as workloads and clients reach it. Defaults to http://host:port. */
  publicUrl: Type.Optional(Type.String()),
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 16 * 1024 * 1024 }),
  leaseTtlMs: Type.Integer({ minimum: 200, default: 15_000 }),
  logLevel: Type.Union(
    [
      Type.Literal("fatal"),
      Type.Literal("error"),
      Type.Literal("warn"),
      Type.Literal("info"),
      Type.Literal("debug"),
      Type.Literal("silent"),
    ],
    { default: "info" },
  ),
  /** Declared GPUs where nvidia-smi finds none, e.g. "h100:4,a100:2". */
  gpus: Type.Optional(Type.String()),
  /** Python interpreter for workloads; unset = the first found that can import torch. */
  python: Type.Optional(Type.String()),
  /** Seconds between SIGTERM and SIGKILL when a job is cancelled or times out. */
  jobStopGraceSeconds: Type.Number({ minimum: 0, maximum: 3600, default: 10 }),
  /** Disable background loops (scheduler, canary, triggers): for tools and some tests. */
  backgroundLoops: Type.Boolean({ default: true }),
  /** Hosts (comma-separated) besides loopback and this server that Label Studio image URLs may name. */
  servingImageHosts: Type.Optional(Type.String()),
  /** Loopback/private hosts, host:port or CIDRs outbound requests may reach (docs/security.md, network egress). */
  outboundAllow: Type.Optional(Type.String()),
  /** Label Studio /predict: all task images of one request together. */
  labelStudioMaxRequestBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
  /** Label Studio /predict: task image bytes held at once across all requests. */
  labelStudioMaxInflightBytes: Type.Integer({ minimum: 1024, default: 256 * 1024 * 1024 }),
  /** `/metrics`: open (`none`) or only with a user's API token (`token`; docs/security.md). */
  metricsAuth: Type.Union([Type.Literal("none"), Type.Literal("token")], { default: "none" }),
  /** Job sandbox: "bwrap" (required: no job runs without a working one) or "none" (no isolation). */
  sandbox: Type.Union([Type.Literal("bwrap"), Type.Literal("none")], { default: "bwrap" }),
  /** Network of jobs that do not choose: "host" (reach the API) or "none" (loopback only). */
  jobNetwork: Type.Union([Type.Literal("host"), Type.Literal("none")], { default: "host" }),
  /** Where workloads run (docs/architecture/runtime-contract.md): this machine, a Slurm cluster, Kubernetes. */
  runtime: Type.Union([Type.Literal("local"), Type.Literal("slurm"), Type.Literal("kubernetes")], {
    default: "local",
  }),
  /** Slurm: partition jobs go to (unset: the cluster's default). */
  slurmPartition: Type.Optional(Type.String()),
  /** Slurm: account charged (unset: the user's default). */
  slurmAccount: Type.Optional(Type.String()),
  /** Slurm: a directory every node sees at the same path (job code, logs, exit records, homes). */
  slurmWorkDir: Type.Optional(Type.String()),
  /** Slurm: directory holding sbatch/srun/squeue/sacct/scancel/sinfo/scontrol (unset: PATH). */
  slurmBinDir: Type.Optional(Type.String()),
  /** Slurm: unprivileged cluster user jobs run as (sbatch --uid; needs a root/SlurmUser submitter). */
  slurmJobUser: Type.Optional(Type.String()),
  /** Slurm: slurm.conf to use (SLURM_CONF for the CLI tools; unset: the system's). */
  slurmConf: Type.Optional(Type.String()),
  /** Kubernetes: namespace of workload objects. */
  kubernetesNamespace: Type.String({ default: "mlops" }),
  /** Kubernetes: kubeconfig file (unset: in-cluster service account, else ~/.kube/config). */
  kubeconfig: Type.Optional(Type.String()),
  /** Kubernetes: Kueue gang admission: "auto" (when its API is served), "on", "off". */
  kubernetesKueue: Type.Union([Type.Literal("auto"), Type.Literal("on"), Type.Literal("off")], {
    default: "auto",
  }),
  /** Kubernetes: GPU type -> nvidia.com/gpu.product values and Kueue queue, `h100=NVIDIA-H100-80GB-HBM3@gpu-h100,...`. */
  kubernetesGpuProducts: Type.Optional(Type.String()),
  /** Kubernetes: Service type of workspace ports (SSH). */
  kubernetesWorkspaceService: Type.Union([Type.Literal("NodePort"), Type.Literal("LoadBalancer")], {
    default: "NodePort",
  }),
  /** Kubernetes: size of a new persistent volume (a workspace's home). */
  kubernetesVolumeSize: Type.String({ default: "20Gi" }),
  /** Cluster runtimes: image workloads run in when a job names none (Dockerfile.workload). */
  workloadImage: Type.String({ default: "ghcr.io/mlops-platform/workload:latest" }),
  /** Host name users' SSH clients reach workspaces at (unset: this server's host). */
  workspaceSshHost: Type.Optional(Type.String()),
  /** Idle timeout of workspaces that do not choose one, e.g. "2h", "30m" (docs/architecture/workspaces.md). */
  workspaceIdleTimeout: Type.String({ default: "2h" }),
  /** Longest a workspace may run before it is stopped, e.g. "7d" ("0" = no limit). */
  workspaceMaxLifetime: Type.String({ default: "0" }),
  /** Seconds between a workspace agent's session reports (and the workspace sync passes); tests use 1. */
  workspaceReportSeconds: Type.Number({ minimum: 0.2, maximum: 3600, default: 30 }),
  /** Python interpreter path as seen on cluster nodes (Slurm) when `python` is run; unset: python3. */
  clusterPython: Type.Optional(Type.String()),
});

export type Config = Static<typeof ConfigSchema>;

/** How each setting is named on the command line and in the environment (for docs and parsing). */
export const CONFIG_SOURCES: Record<keyof Config, { flag?: string; env?: string; description: string }> = {
  host: { flag: "--host", env: "MLOPS_HOST", description: "Address to listen on" },
  port: { flag: "--port", env: "MLOPS_PORT", description: "Port to listen on" },
  dataDir: {
    flag: "--data-dir",
    env: "MLOPS_DATA_DIR",
    description: "Data directory (SQLite file, artifacts, logs)",
  },
  databaseUrl: {
    flag: "--database-url",
    env: "DATABASE_URL",
    description: "postgres://... for PostgreSQL; unset = SQLite",
  },
  databaseSchema: { env: "MLOPS_DATABASE_SCHEMA", description: "PostgreSQL schema (created if missing)" },
  adminToken: { env: "MLOPS_ADMIN_TOKEN", description: "Initial admin token on first start" },
  publicUrl: { flag: "--public-url", env: "MLOPS_PUBLIC_URL", description: "URL clients and workloads use" },
  bodyLimitBytes: { env: "MLOPS_BODY_LIMIT_BYTES", description: "Maximum JSON request body size" },
  leaseTtlMs: { env: "MLOPS_LEASE_TTL_MS", description: "Lease time-to-live for background work" },
  logLevel: {
    flag: "--log-level",
    env: "MLOPS_LOG_LEVEL",
    description: "fatal|error|warn|info|debug|silent",
  },
  gpus: {
    flag: "--gpus",
    env: "MLOPS_GPUS",
    description: 'Declared GPUs when nvidia-smi finds none, e.g. "h100:4"',
  },
  python: { flag: "--python", env: "MLOPS_PYTHON", description: "Python interpreter for workloads" },
  jobStopGraceSeconds: {
    env: "MLOPS_JOB_STOP_GRACE_SECONDS",
    description: "Seconds from SIGTERM to SIGKILL when a job is cancelled or times out",
  },
  backgroundLoops: {
    env: "MLOPS_BACKGROUND_LOOPS",
    description: "Run scheduler/canary/trigger loops (true|false)",
  },
  servingImageHosts: {
    env: "MLOPS_SERVING_IMAGE_HOSTS",
    description: "Hosts (comma-separated) Label Studio image URLs may name, besides this server",
  },
  outboundAllow: {
    env: "MLOPS_OUTBOUND_ALLOW",
    description:
      "Loopback/private destinations (comma-separated CIDRs, addresses, host names, host:port) webhooks and image fetches may reach",
  },
  labelStudioMaxRequestBytes: {
    env: "MLOPS_LABEL_STUDIO_MAX_REQUEST_BYTES",
    description: "Label Studio /predict: bytes of all task images of one request together",
  },
  labelStudioMaxInflightBytes: {
    env: "MLOPS_LABEL_STUDIO_MAX_INFLIGHT_BYTES",
    description: "Label Studio /predict: task image bytes held at once across all requests",
  },
  metricsAuth: {
    env: "MLOPS_METRICS_AUTH",
    description: "/metrics access: none (open, default) or token (any user's API token)",
  },
  sandbox: {
    env: "MLOPS_SANDBOX",
    description: "Job sandbox: bwrap (default; jobs wait while it does not work) or none (NO isolation)",
  },
  jobNetwork: {
    env: "MLOPS_JOB_NETWORK",
    description: "Default network of jobs: host (default) or none (no network, not even the API)",
  },
  runtime: { env: "MLOPS_RUNTIME", description: "Where workloads run: local (default), slurm or kubernetes" },
  slurmPartition: { env: "MLOPS_SLURM_PARTITION", description: "Slurm partition for jobs" },
  slurmAccount: { env: "MLOPS_SLURM_ACCOUNT", description: "Slurm account charged for jobs" },
  slurmWorkDir: {
    env: "MLOPS_SLURM_WORK_DIR",
    description: "Directory shared by the control plane and every Slurm node (same path)",
  },
  slurmBinDir: {
    env: "MLOPS_SLURM_BIN_DIR",
    description: "Directory of the Slurm CLI tools (default: PATH)",
  },
  slurmJobUser: { env: "MLOPS_SLURM_JOB_USER", description: "Unprivileged cluster user Slurm jobs run as" },
  slurmConf: { env: "MLOPS_SLURM_CONF", description: "slurm.conf for the Slurm CLI tools (SLURM_CONF)" },
  kubernetesNamespace: { env: "MLOPS_K8S_NAMESPACE", description: "Kubernetes namespace of workloads" },
  kubeconfig: { env: "MLOPS_KUBECONFIG", description: "kubeconfig file (default: in-cluster)" },
  kubernetesKueue: {
    env: "MLOPS_K8S_KUEUE",
    description: "Kueue gang admission on Kubernetes: auto (default: when installed), on, off",
  },
  kubernetesGpuProducts: {
    env: "MLOPS_K8S_GPU_PRODUCTS",
    description: "GPU type -> nvidia.com/gpu.product values and Kueue queue (type=Product|Product@queue,...)",
  },
  kubernetesWorkspaceService: {
    env: "MLOPS_K8S_WORKSPACE_SERVICE",
    description: "Service type for workspace SSH on Kubernetes: NodePort (default) or LoadBalancer",
  },
  kubernetesVolumeSize: {
    env: "MLOPS_K8S_VOLUME_SIZE",
    description: "Size of a workspace home volume (PVC) on Kubernetes (default 20Gi)",
  },
  workloadImage: {
    env: "MLOPS_WORKLOAD_IMAGE",
    description: "Image of workloads on cluster runtimes when a job names none",
  },
  workspaceSshHost: {
    env: "MLOPS_WORKSPACE_SSH_HOST",
    description: "Host name SSH clients reach workspaces at (default: the server's host)",
  },
  workspaceIdleTimeout: {
    env: "MLOPS_WORKSPACE_IDLE_TIMEOUT",
    description: "Default idle timeout of workspaces (e.g. 2h)",
  },
  workspaceMaxLifetime: {
    env: "MLOPS_WORKSPACE_MAX_LIFETIME",
    description: "Longest a workspace runs before it is stopped (e.g. 7d; 0 = no limit)",
  },
  workspaceReportSeconds: {
    env: "MLOPS_WORKSPACE_REPORT_SECONDS",
    description: "Seconds between workspace session reports and idle checks (default 30)",
  },
  clusterPython: {
    env: "MLOPS_CLUSTER_PYTHON",
    description: "Python interpreter on cluster nodes for `python` commands (default python3)",
  },
};

export interface ConfigInput {
  /** Values from command-line flags, keyed by config key. */
  flags?: Partial<Record<keyof Config, unknown>>;
  env?: Record<string, string | undefined>;
  /** Path to a JSON config file (MLOPS_CONFIG or --config). */
  file?: string;
}

export function loadConfig(input: ConfigInput = {}): Config {
  const env = input.env ?? {};
  const fromFile = input.file ? readConfigFile(input.file) : {};
  const fromEnv: Record<string, unknown> = {};
  for (const [key, source] of Object.entries(CONFIG_SOURCES)) {
    const value = source.env ? env[source.env] : undefined;
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const fromFlags = Object.fromEntries(Object.entries(input.flags ?? {}).filter(([, v]) => v !== undefined));
  const merged = { ...fromFile, ...fromEnv, ...fromFlags };
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, merged));
  const errors = [...Value.Errors(ConfigSchema, converted)];
  if (errors.length > 0) {
    const first = errors[0];
    const key = first.path.replace(/^\//, "");
    const source = CONFIG_SOURCES[key as keyof Config];
    const name = source ? [source.flag, source.env].filter(Boolean).join("/") : key;
    throw new InputError(
      `invalid configuration ${name || key}: ${first.message} (got ${JSON.stringify(first.value)})`,
    );
  }
  const config = converted as Config;
  config.dataDir = path.resolve(config.dataDir);
  if (config.databaseUrl && !/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    throw new InputError(
      "invalid configuration DATABASE_URL: expected postgres://... (leave unset for SQLite)",
    );
  }
  return config;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`config file ${file} is not a JSON object: ${(err as Error).message}`);
  }
}

/** The URL clients and workloads should use to reach this server. */
export function publicUrlOf(config: Config, boundPort?: number): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/$/, "");
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host}:${boundPort ?? config.port}`;
}
