import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { InputError } from "../errors.js";

/**
 * The `model.json` contract that travels with every model version's `model.onnx`: written by the
 * training example, stored by the registry, read by serving. Full description with examples:
 * docs/serving-model-format.md.
 *
 * Classification: the (first, or `output.name`) ONNX output is float32 `[N, classes.length]`, logits
 * (serving applies softmax) or probabilities.
 *
 * Detection: the ONNX outputs are
 * - `boxes`  float32 `[N, K, 4]`: `x1, y1, x2, y2`, normalized to 0..1 of the model input (which is the
 *   whole image resized, so they are also fractions of the original image);
 * - `scores` float32 `[N, K]`;
 * - `labels` int64 (or int32 / float) `[N, K]`: indices into `classes`.
 * Rows with a score of 0 are padding; rows under `output.scoreThreshold` are dropped. The output names
 * can be overridden with `output.boxes` / `output.scores` / `output.labels`.
 */
export const MODEL_FORMAT_V1 = "mlops-model/v1";

/**
 * Bounds on the declared input (issue: a 3x4000x4000 declaration cost 1 GB per request): every image side
 * at most MAX_INPUT_SIDE pixels and one image's tensor at most MAX_INPUT_ELEMENTS float32 values (64 MiB).
 */
export const MAX_INPUT_SIDE = 4096;
export const MAX_INPUT_ELEMENTS = 16 * 1024 * 1024;

/** One batched run's input at most this many bytes: big inputs get fewer rows per run (docs/serving-model-format.md). */
export const MAX_RUN_INPUT_BYTES = 256 * 1024 * 1024;

/** Rows (images) one inference run may batch for this model: the configured maximum, capped by input bytes. */
export function maxRowsPerRun(descriptor: ModelDescriptor, configured: number): number {
  const [c, h, w] = descriptor.inputShape;
  return Math.max(1, Math.min(configured, Math.floor(MAX_RUN_INPUT_BYTES / (c * h * w * 4))));
}

const PositiveInt = Type.Integer({ minimum: 1 });
const Side = Type.Integer({ minimum: 1, maximum: MAX_INPUT_SIDE });
const OutputName = Type.String({ minLength: 1 });

/** How the image is resized to `resize`, as PIL's `Image.resize` does it (docs/serving-model-format.md). */
export const DEFAULT_INTERPOLATION = "bilinear" as const;

export const PreprocessingSchema = Type.Object(
  {
    /** `[height, width]` the image is resized to (fill, no aspect kept); inputShape's H, W unless cropped. */
    resize: Type.Tuple([Side, Side]),
    /** Resampling filter of the resize, PIL's semantics; absent means `bilinear`. */
    interpolation: Type.Optional(
      Type.Union([Type.Literal("nearest"), Type.Literal("bilinear"), Type.Literal("bicubic")]),
    ),
    /** After the resize: `none` (absent too), or a centre crop `{"center": [h, w]}` (torchvision's CenterCrop). */
    crop: Type.Optional(
      Type.Union([
        Type.Literal("none"),
        Type.Object({ center: Type.Tuple([Side, Side]) }, { additionalProperties: false }),
      ]),
    ),
    /** Channel order of the tensor; GRAY needs a 1-channel input. */
    colorSpace: Type.Union([Type.Literal("RGB"), Type.Literal("BGR"), Type.Literal("GRAY")]),
    /** Pixels (0..255) are multiplied by this first, e.g. 1/255. */
    scale: Type.Number({ exclusiveMinimum: 0 }),
    /** Then `(x - mean[c]) / std[c]`, one entry per channel. */
    mean: Type.Array(Type.Number(), { minItems: 1, maxItems: 4 }),
    std: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 4 }),
    layout: Type.Union([Type.Literal("NCHW"), Type.Literal("NHWC")]),
  },
  { additionalProperties: false },
);

export const ClassificationOutputSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal("logits"), Type.Literal("probabilities")]),
    /** ONNX output name; default: the model's first output. */
    name: Type.Optional(OutputName),
  },
  { additionalProperties: false },
);

export const DetectionOutputSchema = Type.Object(
  {
    kind: Type.Literal("detection"),
    /** Boxes scoring under this are dropped (padding rows have score 0). */
    scoreThreshold: Type.Number({ minimum: 0, maximum: 1 }),
    boxes: Type.Optional(OutputName),
    scores: Type.Optional(OutputName),
    labels: Type.Optional(OutputName),
  },
  { additionalProperties: false },
);

export const ModelDescriptorSchema = Type.Object(
  {
    format: Type.Literal(MODEL_FORMAT_V1),
    task: Type.Union([Type.Literal("classification"), Type.Literal("detection")]),
    framework: Type.String({ minLength: 1 }),
    /** The ONNX input the image tensor is fed to. */
    inputName: Type.String({ minLength: 1 }),
    /** `[C, H, W]` whatever the layout; the batch dimension is left out (it is dynamic). */
    inputShape: Type.Tuple([PositiveInt, Side, Side]),
    preprocessing: PreprocessingSchema,
    classes: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    output: Type.Union([ClassificationOutputSchema, DetectionOutputSchema]),
    /** Free-form provenance (who or what produced the file, when). */
    created: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export type ModelDescriptor = Static<typeof ModelDescriptorSchema>;
export type Preprocessing = Static<typeof PreprocessingSchema>;
export type ClassificationOutput = Static<typeof ClassificationOutputSchema>;
export type DetectionOutput = Static<typeof DetectionOutputSchema>;

/** Default ONNX output names of the detection convention. */
export const DETECTION_OUTPUT_NAMES = { boxes: "boxes", scores: "scores", labels: "labels" } as const;

/**
 * Validates a parsed `model.json` (schema first, then the rules that span fields) and returns it typed.
 * Throws InputError naming the offending field.
 */
export function parseModelDescriptor(json: unknown): ModelDescriptor {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new InputError("model.json: expected a JSON object");
  }
  const schemaError = firstSchemaError(json as Record<string, unknown>);
  if (schemaError) {
    throw new InputError(`model.json: ${schemaError.path || "(root)"}: ${schemaError.message}`, {
      path: schemaError.path,
    });
  }
  const d = json as ModelDescriptor;
  const [channels, height, width] = d.inputShape;
  const p = d.preprocessing;
  if (channels * height * width > MAX_INPUT_ELEMENTS) {
    throw new InputError(
      `model.json: /inputShape [${d.inputShape.join(", ")}] is ${channels * height * width} values per image; ` +
        `at most ${MAX_INPUT_ELEMENTS} are allowed`,
    );
  }
  const [outH, outW] = finalSize(p);
  const what = p.crop && p.crop !== "none" ? "/preprocessing/crop/center" : "/preprocessing/resize";
  if (outH !== height || outW !== width) {
    throw new InputError(
      `model.json: ${what} [${outH}, ${outW}] must equal inputShape's [H, W] [${height}, ${width}]`,
    );
  }
  if (outH > p.resize[0] || outW > p.resize[1]) {
    throw new InputError(
      `model.json: /preprocessing/crop/center [${outH}, ${outW}] must fit in /preprocessing/resize [${p.resize.join(", ")}]`,
    );
  }
  if (p.mean.length !== channels || p.std.length !== channels) {
    throw new InputError(
      `model.json: /preprocessing/mean and /preprocessing/std need ${channels} entries (inputShape's C)`,
    );
  }
  const expectedChannels = p.colorSpace === "GRAY" ? 1 : 3;
  if (channels !== expectedChannels) {
    throw new InputError(
      `model.json: colorSpace ${p.colorSpace} needs ${expectedChannels} channel(s), inputShape has ${channels}`,
    );
  }
  const isDetectionOutput = d.output.kind === "detection";
  if ((d.task === "detection") !== isDetectionOutput) {
    throw new InputError(
      `model.json: /output/kind "${d.output.kind}" does not fit task "${d.task}" ` +
        `(classification: logits | probabilities; detection: detection)`,
    );
  }
  if (new Set(d.classes).size !== d.classes.length) {
    throw new InputError("model.json: /classes has duplicate names");
  }
  return d;
}

/** `[height, width]` of the image after resize and crop. */
export function finalSize(p: Preprocessing): [number, number] {
  return p.crop && p.crop !== "none" ? p.crop.center : p.resize;
}

/**
 * TypeBox reports a failed union as "Expected union value"; say instead which values are allowed, and
 * for `output` check against the branch its `kind` picks so the message names the real problem.
 */
function firstSchemaError(json: Record<string, unknown>): { path: string; message: string } | undefined {
  const first = Value.Errors(ModelDescriptorSchema, json).First();
  if (!first) return undefined;
  if (first.path === "/output" && typeof json.output === "object" && json.output !== null) {
    const kind = (json.output as Record<string, unknown>).kind;
    const branch =
      kind === "detection"
        ? DetectionOutputSchema
        : kind === "logits" || kind === "probabilities"
          ? ClassificationOutputSchema
          : undefined;
    if (!branch)
      return { path: "/output/kind", message: 'expected "logits", "probabilities" or "detection"' };
    const inner = Value.Errors(branch, json.output).First();
    if (inner) return { path: `/output${inner.path}`, message: inner.message };
  }
  const options = literalOptions(first.schema);
  if (options) return { path: first.path, message: `expected one of ${options}` };
  return { path: first.path, message: first.message };
}

function literalOptions(schema: unknown): string | undefined {
  const anyOf = (schema as { anyOf?: { const?: unknown }[] }).anyOf;
  if (!anyOf?.every((s) => typeof s.const === "string")) return undefined;
  return anyOf.map((s) => JSON.stringify(s.const)).join(", ");
}

/** Parses the text of a `model.json` file (JSON syntax errors become InputError too). */
export function parseModelDescriptorText(text: string): ModelDescriptor {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`model.json: not valid JSON (${(err as Error).message})`);
  }
  return parseModelDescriptor(json);
}
