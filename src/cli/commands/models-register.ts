import { readFile } from "node:fs/promises";
import { InputError } from "../../errors.js";
import { type ModelDescriptor, parseModelDescriptor } from "../../registry/model-descriptor.js";
import { type ApiClient, ApiError, enc } from "../client.js";

/** `mlops model register`: builds model.json for an existing ONNX file and registers both in one step. */
export interface RegisterOptions {
  onnx: string;
  labels: string;
  inputSize?: string;
  task?: string;
  mean?: string;
  std?: string;
  project: string;
  description?: string;
}

const numbers = (text: string, what: string) =>
  text.split(",").map((s) => {
    const n = Number(s.trim());
    if (!Number.isFinite(n)) throw new InputError(`${what}: '${s}' is not a number`);
    return n;
  });

/** Reads the ONNX input name (and static shape, when there is one) with onnxruntime. */
async function onnxInput(file: string): Promise<{ name: string; shape?: [number, number, number] }> {
  const ort = await import("onnxruntime-node");
  const session = await ort.InferenceSession.create(file);
  try {
    const name = session.inputNames[0];
    const meta = session.inputMetadata[0] as { isTensor?: boolean; shape?: ReadonlyArray<number | string> };
    const dims = meta?.shape?.slice(1);
    const fixed = dims?.length === 3 && dims.every((d) => typeof d === "number" && d > 0);
    return { name, shape: fixed ? (dims as [number, number, number]) : undefined };
  } finally {
    await session.release();
  }
}

export async function buildDescriptor(options: RegisterOptions): Promise<ModelDescriptor> {
  const input = await onnxInput(options.onnx);
  let shape = input.shape;
  if (options.inputSize) {
    const parts = options.inputSize.split("x").map(Number);
    if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InputError(`--input-size '${options.inputSize}': expected CxHxW, e.g. 3x224x224`);
    }
    shape = parts as [number, number, number];
  }
  if (!shape) throw new InputError("the ONNX input has no fixed shape: give --input-size CxHxW");
  const [c, h, w] = shape;
  const task = options.task ?? "classification";
  if (task !== "classification" && task !== "detection")
    throw new InputError("--task: classification or detection");
  const mean = options.mean ? numbers(options.mean, "--mean") : new Array(c).fill(0);
  const std = options.std ? numbers(options.std, "--std") : new Array(c).fill(1);
  return parseModelDescriptor({
    format: "mlops-model/v1",
    task,
    framework: "onnx",
    inputName: input.name,
    inputShape: [c, h, w],
    preprocessing: {
      resize: [h, w],
      colorSpace: c === 1 ? "GRAY" : "RGB",
      scale: 1 / 255,
      mean,
      std,
      layout: "NCHW",
    },
    classes: options.labels
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    output: task === "detection" ? { kind: "detection", scoreThreshold: 0.5 } : { kind: "logits" },
    created: { by: "mlops model register", at: new Date().toISOString() },
  });
}

/** `mlflow-artifacts:/1/abc/artifacts` -> the proxy path that serves it. */
function proxyPath(artifactUri: string): string {
  const rest = artifactUri
    .replace(/^mlflow-artifacts:/, "")
    .replace(/^\/\/[^/]*/, "")
    .replace(/^\/+/, "");
  return `/api/2.0/mlflow-artifacts/artifacts/${rest.split("/").map(enc).join("/")}`;
}

const isMissingRoute = (err: unknown) =>
  err instanceof ApiError && err.status === 404 && /no route/.test(err.message);

/**
 * Creates a run for the file (experiment `model-registrations` of the project), uploads both files into
 * the run's `model/` directory, and creates the version from it. Without tracking on the server, the
 * files are uploaded to the registry directly.
 */
export async function registerOnnx(
  client: ApiClient,
  name: string,
  options: RegisterOptions,
): Promise<{ version: number; runId: string | null }> {
  const descriptor = await buildDescriptor(options);
  const onnx = await readFile(options.onnx);
  const json = Buffer.from(`${JSON.stringify(descriptor, null, 2)}\n`);
  const q = `?project=${enc(options.project)}`;
  try {
    await client.get(`/api/v1/models/${enc(name)}${q}`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    await client.post(`/api/v1/models${q}`, { name, description: options.description });
  }
  const runId = await uploadToRun(client, name, options.project, onnx, json).catch((err: unknown) => {
    if (isMissingRoute(err)) return null;
    throw err;
  });
  let body: unknown;
  if (runId) {
    body = { runId, path: "model", description: options.description };
  } else {
    const files = [];
    for (const [path, bytes] of [
      ["model.onnx", onnx],
      ["model.json", json],
    ] as const) {
      const response = await client.raw("POST", `/api/v1/models/uploads${q}`, {
        body: bytes,
        headers: { "content-type": "application/octet-stream" },
      });
      files.push({ path, sha256: ((await response.json()) as { sha256: string }).sha256 });
    }
    body = { files, description: options.description };
  }
  const created = await client.post<{ version: number }>(`/api/v1/models/${enc(name)}/versions${q}`, body);
  return { version: created.version, runId };
}

async function uploadToRun(
  client: ApiClient,
  model: string,
  project: string,
  onnx: Buffer,
  json: Buffer,
): Promise<string> {
  const api = "/api/2.0/mlflow";
  const experimentName = "model-registrations";
  let experimentId: string;
  try {
    const found = await client.get<{ experiment: { experiment_id: string } }>(
      `${api}/experiments/get-by-name`,
      {
        experiment_name: experimentName,
      },
    );
    experimentId = found.experiment.experiment_id;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404) || isMissingRoute(err)) throw err;
    const created = await client.post<{ experiment_id: string }>(`${api}/experiments/create`, {
      name: experimentName,
      tags: [{ key: "mlops.project", value: project }],
    });
    experimentId = created.experiment_id;
  }
  const run = await client.post<{ run: { info: { run_id: string; artifact_uri: string } } }>(
    `${api}/runs/create`,
    {
      experiment_id: experimentId,
      run_name: `register-${model}`,
      start_time: Date.now(),
      tags: [{ key: "mlops.registered_model", value: model }],
    },
  );
  const { run_id: runId, artifact_uri: artifactUri } = run.run.info;
  for (const [file, bytes] of [
    ["model.onnx", onnx],
    ["model.json", json],
  ] as const) {
    await client.raw("PUT", `${proxyPath(artifactUri)}/model/${file}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
  }
  await client.post(`${api}/runs/update`, { run_id: runId, status: "FINISHED", end_time: Date.now() });
  return runId;
}
