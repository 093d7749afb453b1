import { Type } from "@sinclair/typebox";

/** Reply and parameter schemas of the data routes (data.ts). */
export const Split = Type.Union([Type.Literal("train"), Type.Literal("val"), Type.Literal("holdout")]);
export const Fractions = Type.Object({ train: Type.Number(), val: Type.Number(), holdout: Type.Number() });
export const DatasetReply = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  name: Type.String(),
  description: Type.String(),
  task: Type.String(),
  classes: Type.Array(Type.String()),
  splitFractions: Fractions,
  hasWebhookSecret: Type.Boolean(),
  createdAt: Type.Integer(),
  createdBy: Type.String(),
});
export const Stats = Type.Object({
  items: Type.Integer(),
  labeled: Type.Integer(),
  bySplit: Fractions,
  revisions: Type.Integer(),
});
export const Item = Type.Object({
  id: Type.String(),
  datasetId: Type.String(),
  key: Type.String(),
  sha256: Type.Union([Type.String(), Type.Null()]),
  url: Type.Union([Type.String(), Type.Null()]),
  size: Type.Union([Type.Integer(), Type.Null()]),
  sourceName: Type.Union([Type.String(), Type.Null()]),
  fileName: Type.Union([Type.String(), Type.Null()]),
  split: Split,
  externalTaskId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.Integer(),
});
export const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
export const Revision = Type.Object({
  id: Type.Integer(),
  itemId: Type.String(),
  label: Type.Unknown(),
  source: Type.String(),
  author: Type.String(),
  createdAt: Type.Integer(),
  sourceRef: Nullable(Type.String()),
  prediction: Type.Union([
    Type.Object({
      predictionId: Nullable(Type.String()),
      modelVersion: Nullable(Type.String()),
      deployment: Nullable(Type.String()),
      predictedLabel: Type.Unknown(),
    }),
    Type.Null(),
  ]),
  outcome: Nullable(Type.String()),
});
export const Snapshot = Type.Object({
  id: Type.String(),
  datasetId: Type.String(),
  itemCount: Type.Integer(),
  splitCounts: Fractions,
  manifestSize: Type.Integer(),
  createdAt: Type.Integer(),
  createdBy: Type.String(),
});
export const AgreementRow = Type.Object({
  modelVersion: Type.String(),
  deployment: Nullable(Type.String()),
  accepted: Type.Integer(),
  corrected: Type.Integer(),
  total: Type.Integer(),
  agreement: Type.Number(),
});
export const DatasetParams = Type.Object({ dataset: Type.String({ maxLength: 200 }) });
export const ProjectQuery = Type.Object({ project: Type.Optional(Type.String({ maxLength: 200 })) });
export const Sha = Type.String({ pattern: "^[0-9a-fA-F]{64}$" });
