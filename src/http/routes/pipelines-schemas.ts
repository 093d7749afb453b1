import { Type } from "@sinclair/typebox";

// Nested objects (job template, evaluation, evidence) are documented in docs/architecture; passed through as they are.
const Loose = Type.Unknown();
const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);

export const ModelParams = Type.Object({ model: Type.String({ minLength: 1, maxLength: 128 }) });
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const ProjectQuery = Type.Object({ project: Type.Optional(Type.String()) });

export const PolicyBody = Type.Object(
  {
    dataset: Type.String({ minLength: 1 }),
    minNewLabels: Type.Integer({ minimum: 1 }),
    cooldownSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    settleSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
    command: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    codeDigest: Type.Optional(Type.String()),
    gpus: Type.Optional(Type.Integer({ minimum: 0 })),
    gpuType: Type.Optional(Type.String()),
    cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 64 })),
    env: Type.Optional(Type.Record(Type.String(), Type.String())),
    // null = no timeout. `enum: [null]`, not Type.Null(): with type coercion a refused 0 would be coerced
    // to null there and silently mean "no timeout"; null is tried first so it is not coerced to 0 either.
    timeoutSeconds: Type.Optional(
      Type.Unsafe<number | null>({ anyOf: [{ enum: [null] }, { type: "integer", minimum: 1 }] }),
    ),
    maxRetries: Type.Optional(Type.Integer({ minimum: 0 })),
    autoDeploy: Type.Optional(Type.Boolean()),
    deployment: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    canaryPlan: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const PolicyReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  modelId: Type.String(),
  modelName: Type.String(),
  datasetId: Type.String(),
  datasetName: Type.String(),
  minNewLabels: Type.Integer(),
  cooldownSeconds: Type.Integer(),
  settleSeconds: Type.Integer(),
  thresholdMetAt: NullableNumber,
  job: Loose,
  autoDeploy: Type.Boolean(),
  deployment: NullableString,
  canaryPlan: Loose,
  paused: Type.Boolean(),
  triggerSeq: Type.Integer(),
  lastFiredAt: NullableNumber,
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  createdBy: Type.String(),
  updatedBy: Type.String(),
});

export const TriggerStatusReply = Type.Object({
  newLabels: Type.Integer(),
  basisSnapshot: NullableString,
  basisSource: Type.String(),
  fires: Type.Boolean(),
  reason: Type.String(),
  cooldownUntil: Type.Optional(Type.Number()),
  activeRun: NullableString,
  productionVersion: NullableNumber,
});

export const RunReply = Type.Object({
  id: Type.String(),
  policyId: Type.String(),
  projectId: Type.String(),
  modelId: Type.String(),
  modelName: Type.String(),
  datasetId: Type.String(),
  triggerSeq: Type.Integer(),
  state: Type.String(),
  stateReason: Type.String(),
  trigger: Loose,
  baseVersion: NullableNumber,
  baseVersionId: NullableString,
  snapshotId: NullableString,
  jobId: NullableString,
  runId: NullableString,
  candidateVersion: NullableNumber,
  candidateVersionId: NullableString,
  evaluation: Loose,
  job: Loose,
  autoDeploy: Type.Boolean(),
  deployment: NullableString,
  canaryPlan: Loose,
  revision: Type.Integer(),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  finishedAt: NullableNumber,
});

export const StepReply = Type.Object({
  id: Type.Integer(),
  step: Type.String(),
  status: Type.String(),
  startedAt: Type.Number(),
  finishedAt: NullableNumber,
  durationMs: NullableNumber,
  reason: NullableString,
  details: Loose,
  jobId: NullableString,
  holder: Type.String(),
  resumes: Type.Integer(),
});
