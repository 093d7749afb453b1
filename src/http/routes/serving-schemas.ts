import { Type } from "@sinclair/typebox";

/** Schemas shared by the serving routes (deployments, predict, OIP, Label Studio). */
export const API_VERSION_OIP = "2";

/** `X-Routing-Key`: a caller that sends one always lands on the same version for a given weight. */
export function routingKeyOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers["x-routing-key"];
  const key = Array.isArray(raw) ? raw[0] : raw;
  return key ? key.slice(0, 256) : undefined;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const PlanSchema = Type.Object(
  {
    intervalSeconds: Type.Optional(Type.Number({ minimum: 0.05 })),
    stepWeight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    maxWeight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100 })),
    minRequests: Type.Optional(Type.Integer({ minimum: 1 })),
    maxErrorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    maxP95LatencyRatio: Type.Optional(Type.Number({ minimum: 1 })),
    minLatencySamples: Type.Optional(Type.Integer({ minimum: 1 })),
    minAgreement: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    minLabels: Type.Optional(Type.Integer({ minimum: 1 })),
    agreementConfidence: Type.Optional(Type.Number({ minimum: 0.5, maximum: 0.999 })),
    failureLimit: Type.Optional(Type.Integer({ minimum: 1 })),
    auto: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const FullPlan = Type.Object({
  intervalSeconds: Type.Number(),
  stepWeight: Type.Number(),
  maxWeight: Type.Number(),
  minRequests: Type.Integer(),
  maxErrorRate: Type.Number(),
  maxP95LatencyRatio: Type.Number(),
  minLatencySamples: Type.Optional(Type.Integer()),
  minAgreement: Type.Optional(Type.Number()),
  minLabels: Type.Optional(Type.Integer()),
  agreementConfidence: Type.Optional(Type.Number()),
  failureLimit: Type.Integer(),
  auto: Type.Boolean(),
});

export const DeploymentReply = Type.Object({
  id: Type.String(),
  name: Type.String(),
  projectId: Type.String(),
  modelId: Type.String(),
  modelName: Type.String(),
  environment: Type.String(),
  state: Type.String(),
  primaryVersionId: Type.String(),
  primaryVersion: Type.Integer(),
  canaryVersionId: Nullable(Type.String()),
  canaryVersion: Nullable(Type.Integer()),
  canaryWeight: Type.Number(),
  plan: Nullable(FullPlan),
  canaryStartedAt: Nullable(Type.Number()),
  stepStartedAt: Nullable(Type.Number()),
  failures: Type.Integer(),
  labelStudio: Nullable(
    Type.Object({
      fromName: Type.String(),
      toName: Type.String(),
      type: Type.String(),
      dataKey: Type.String(),
      project: Type.Optional(Type.String()),
      hostname: Type.Optional(Type.String()),
    }),
  ),
  revision: Type.Integer(),
  createdAt: Type.Number(),
  updatedAt: Type.Number(),
  createdBy: Type.String(),
});

export const HistoryReply = Type.Object({
  id: Type.Integer(),
  at: Type.Number(),
  actor: Type.String(),
  action: Type.String(),
  fromState: Nullable(Type.String()),
  toState: Type.String(),
  reason: Type.String(),
  primaryVersion: Type.Integer(),
  canaryVersion: Nullable(Type.Integer()),
  canaryWeight: Type.Number(),
  details: Type.Record(Type.String(), Type.Unknown()),
});

const Stats = Type.Object({
  requests: Type.Integer(),
  errors: Type.Integer(),
  errorRate: Type.Number(),
  p50Ms: Nullable(Type.Number()),
  p95Ms: Nullable(Type.Number()),
  meanScore: Nullable(Type.Number()),
});

export const StatusReply = Type.Object({
  deployment: DeploymentReply,
  since: Type.Number(),
  nextAnalysisAt: Nullable(Type.Number()),
  versions: Type.Array(
    Type.Object({
      role: Type.String(),
      version: Type.Integer(),
      modelVersion: Type.String(),
      weight: Type.Number(),
      loaded: Type.Boolean(),
      loadError: Nullable(Type.String()),
      stats: Stats,
      agreement: Nullable(
        Type.Object({
          accepted: Type.Integer(),
          corrected: Type.Integer(),
          total: Type.Integer(),
          rate: Nullable(Type.Number()),
        }),
      ),
    }),
  ),
});

const Label = Type.Object({ label: Type.String(), index: Type.Integer(), score: Type.Number() });
const Box = Type.Object({
  label: Type.String(),
  index: Type.Integer(),
  score: Type.Number(),
  x1: Type.Number(),
  y1: Type.Number(),
  x2: Type.Number(),
  y2: Type.Number(),
});

export const PredictReply = Type.Object({
  deployment: Type.String(),
  model: Type.String(),
  modelVersion: Type.Integer(),
  canary: Type.Boolean(),
  predictions: Type.Array(
    Type.Object({
      predictionId: Type.String(),
      task: Type.String(),
      width: Type.Integer(),
      height: Type.Integer(),
      labels: Type.Optional(Type.Array(Label)),
      boxes: Type.Optional(Type.Array(Box)),
    }),
  ),
});
