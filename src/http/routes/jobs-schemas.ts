import { Type } from "@sinclair/typebox";

/** Reply and request schemas of the jobs API. */

const Nullable = <T extends ReturnType<typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);

export const ResourcesSchema = Type.Object({
  cpu: Type.Number(),
  memoryMiB: Type.Integer(),
  gpus: Type.Integer(),
  gpuType: Type.Optional(Type.String()),
});

export const JobReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  name: Type.String(),
  command: Type.Array(Type.String()),
  env: Type.Record(Type.String(), Type.String()),
  image: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  resources: ResourcesSchema,
  distributed: Type.Optional(Type.Object({ nodes: Type.Integer(), procsPerNode: Type.Integer() })),
  /** Ranks (one replica each): nodes x procsPerNode. */
  replicas: Type.Integer(),
  /** "workspace" for a workspace's sshd job; absent for a plain job. */
  kind: Type.Optional(Type.String()),
  priority: Type.Integer(),
  maxRetries: Type.Integer(),
  timeoutSeconds: Nullable(Type.Integer()),
  attempt: Type.Integer(),
  state: Type.String(),
  stateReason: Type.String(),
  createdBy: Type.Optional(Type.String()),
  ownerId: Type.Optional(Type.String()),
  runId: Type.Optional(Type.String()),
  experimentId: Type.Optional(Type.String()),
  codeDigest: Type.Optional(Type.String()),
  cancelRequested: Type.Optional(Type.Boolean()),
  submittedAt: Type.String(),
  updatedAt: Type.String(),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
});

export const ReplicaReply = Type.Object({
  replicaId: Type.String(),
  jobId: Type.String(),
  attempt: Type.Integer(),
  replicaIndex: Type.Integer(),
  nodeId: Type.String(),
  cpu: Type.Number(),
  memoryMiB: Type.Integer(),
  gpuUuids: Type.Array(Type.String()),
  state: Type.String(),
  pid: Nullable(Type.Integer()),
  end: Type.Union([Type.String(), Type.Null()]),
  exitCode: Nullable(Type.Integer()),
  signal: Type.Union([Type.String(), Type.Null()]),
  message: Type.Union([Type.String(), Type.Null()]),
  startedAt: Nullable(Type.Integer()),
  endedAt: Nullable(Type.Integer()),
  stdoutSha256: Type.Union([Type.String(), Type.Null()]),
  stderrSha256: Type.Union([Type.String(), Type.Null()]),
  /** The latest resource sample while it runs (what the runtime can measure). */
  usage: Type.Optional(
    Type.Object({
      cpuCores: Type.Optional(Type.Number()),
      memoryBytes: Type.Optional(Type.Number()),
      gpus: Type.Optional(
        Type.Array(
          Type.Object({
            index: Type.Integer(),
            utilizationPercent: Type.Number(),
            memoryUsedMiB: Type.Number(),
          }),
        ),
      ),
      sampledAt: Type.String(),
    }),
  ),
});

export const EventReply = Type.Object({
  id: Type.Integer(),
  jobId: Type.String(),
  at: Type.Integer(),
  from: Type.Union([Type.String(), Type.Null()]),
  to: Type.String(),
  attempt: Type.Integer(),
  actor: Type.String(),
  reason: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const SubmitBody = Type.Object(
  {
    project: Type.Optional(Type.String({ maxLength: 200 })),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    command: Type.Array(Type.String({ maxLength: 100_000 }), { minItems: 1, maxItems: 10_000 }),
    env: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 100_000 }))),
    /** Write-only: reaches the workload's environment, never any reply (docs/security.md). */
    secretEnv: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 100_000 }))),
    /** Per node: GPUs, CPU and memory; each rank gets its node's share. */
    resources: Type.Optional(
      Type.Object(
        {
          cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          memoryMiB: Type.Optional(Type.Integer({ minimum: 1 })),
          gpus: Type.Optional(Type.Integer({ minimum: 0 })),
          gpuType: Type.Optional(Type.String({ maxLength: 64 })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Distributed training: gang nodes, and ranks (processes) per node; one replica per rank. */
    nodes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    procsPerNode: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    /** The same as nodes/procsPerNode (older form). */
    distributed: Type.Optional(
      Type.Object(
        {
          nodes: Type.Integer({ minimum: 1, maximum: 1024 }),
          procsPerNode: Type.Integer({ minimum: 1, maximum: 1024 }),
        },
        { additionalProperties: false },
      ),
    ),
    network: Type.Optional(Type.Union([Type.Literal("host"), Type.Literal("none")])),
    priority: Type.Optional(Type.Integer()),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0 })),
    // null = no timeout. `enum: [null]`, not Type.Null(): with type coercion a refused 0 would be coerced
    // to null there and silently mean "no timeout"; null is tried first so it is not coerced to 0 either.
    timeoutSeconds: Type.Optional(
      Type.Unsafe<number | null>({ anyOf: [{ enum: [null] }, { type: "integer", minimum: 1 }] }),
    ),
    codeDigest: Type.Optional(Type.String({ pattern: "^[0-9a-fA-F]{64}$" })),
    experiment: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const Holder = Type.Object({
  jobId: Type.String(),
  jobName: Type.String(),
  projectId: Type.String(),
  replicaIndex: Type.Integer(),
});

export const GpusReply = Type.Object({
  source: Type.String(),
  devices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      uuid: Type.String(),
      type: Type.String(),
      name: Type.Optional(Type.String()),
      memoryMiB: Type.Optional(Type.Integer()),
      simulated: Type.Boolean(),
      nodeId: Type.String(),
      heldBy: Type.Union([Holder, Type.Object({ otherProject: Type.Literal(true) }), Type.Null()]),
    }),
  ),
  nodes: Type.Array(
    Type.Object({
      id: Type.String(),
      cpu: Type.Number(),
      memoryMiB: Type.Integer(),
      cpuHeld: Type.Number(),
      memoryMiBHeld: Type.Integer(),
      gpus: Type.Integer(),
    }),
  ),
  runtime: Type.Object({
    name: Type.String(),
    sandbox: Type.String(),
    sandboxReason: Type.Optional(Type.String()),
    memoryLimit: Type.String(),
    memoryLimitReason: Type.Optional(Type.String()),
    placement: Type.Optional(Type.String()),
  }),
});
