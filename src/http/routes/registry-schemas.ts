import { Type } from "@sinclair/typebox";

/** Reply schemas of the native registry API. */
const StringMap = Type.Record(Type.String(), Type.String());
const Free = Type.Object({}, { additionalProperties: true });

export const GateSchema = Type.Object(
  {
    metric: Type.String({ minLength: 1, maxLength: 250 }),
    direction: Type.Union([Type.Literal("higher"), Type.Literal("lower")]),
    min: Type.Optional(Type.Number()),
    max: Type.Optional(Type.Number()),
    maxRegression: Type.Optional(Type.Number({ minimum: 0 })),
    require: Type.Optional(Type.Union([Type.Literal("platform"), Type.Literal("any")])),
  },
  { additionalProperties: false },
);

export const ModelReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  createdBy: Type.String(),
  gate: Type.Union([Type.Null(), GateSchema]),
  tags: StringMap,
  aliases: Type.Record(Type.String(), Type.Integer()),
});

export const VersionReply = Type.Object({
  id: Type.String(),
  modelId: Type.String(),
  modelName: Type.String(),
  projectId: Type.String(),
  version: Type.Integer(),
  stage: Type.String(),
  source: Type.String(),
  runId: Type.Union([Type.Null(), Type.String()]),
  runPath: Type.Union([Type.Null(), Type.String()]),
  status: Type.String(),
  description: Type.String(),
  createdAt: Type.Integer(),
  updatedAt: Type.Integer(),
  createdBy: Type.String(),
  tags: StringMap,
  aliases: Type.Array(Type.String()),
  files: Type.Array(Type.Object({ path: Type.String(), sha256: Type.String(), size: Type.Integer() })),
});

export const TransitionReply = Type.Object({
  id: Type.Integer(),
  modelId: Type.String(),
  versionId: Type.String(),
  version: Type.Integer(),
  fromStage: Type.String(),
  toStage: Type.String(),
  actor: Type.String(),
  at: Type.Integer(),
  reason: Type.String(),
  evidence: Type.Union([Type.Null(), Type.String()]),
  details: Free,
});

export const DecisionSchema = Type.Object({
  passed: Type.Boolean(),
  reasons: Type.Array(Type.String()),
  notes: Type.Array(Type.String()),
  metric: Type.Optional(Type.String()),
  value: Type.Optional(Type.Number()),
  baseline: Type.Optional(
    Type.Object({ version: Type.Integer(), recordId: Type.String(), value: Type.Number() }),
  ),
});

export const ValidationReply = Type.Object({
  id: Type.String(),
  modelId: Type.String(),
  versionId: Type.String(),
  version: Type.Integer(),
  snapshot: Type.String(),
  metrics: Type.Record(Type.String(), Type.Number()),
  runId: Type.Union([Type.Null(), Type.String()]),
  createdBy: Type.String(),
  createdAt: Type.Integer(),
  passed: Type.Boolean(),
  decision: DecisionSchema,
  provenance: Type.Union([Type.Literal("platform"), Type.Literal("reported")]),
  evaluation: Type.Union([
    Type.Null(),
    Type.Object({
      split: Type.String(),
      itemCount: Type.Integer(),
      itemSetSha256: Type.String(),
      evaluator: Type.String(),
      method: Type.String(),
      task: Type.String(),
      trainingData: Type.String(),
    }),
  ]),
});

export const EvaluationReply = Type.Object({
  record: ValidationReply,
  production: Type.Optional(ValidationReply),
});

export const TransitionResultReply = Type.Object({
  version: VersionReply,
  transition: TransitionReply,
  archived: Type.Array(TransitionReply),
  evidence: Type.Optional(ValidationReply),
});

export const StandingReply = Type.Object({
  passed: Type.Boolean(),
  message: Type.String(),
  record: Type.Optional(ValidationReply),
  decision: Type.Optional(DecisionSchema),
});

export const ProjectQuery = Type.Object({ project: Type.Optional(Type.String()) });
export const NameParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
export const VersionParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  version: Type.String({ pattern: "^[0-9]{1,15}$" }),
});
