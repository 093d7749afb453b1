import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { BlobOwnership } from "../artifacts/blob-ownership.js";
import {
  isUnderArtifactDir,
  normalizeArtifactDir,
  normalizeArtifactPath,
} from "../artifacts/artifact-path.js";
import { InputError, NotFoundError } from "../errors.js";
import { type ModelDescriptor, parseModelDescriptorText } from "./model-descriptor.js";
import type { VersionFile } from "./registry-store.js";
import type { RunLookup, RunRef } from "./run-lookup.js";

export const MODEL_FILE = "model.onnx";
export const DESCRIPTOR_FILE = "model.json";
const MAX_DESCRIPTOR_BYTES = 1024 * 1024;

/** The files of a run's artifact directory, re-rooted at that directory (`model/model.onnx` -> `model.onnx`). */
export async function filesFromRun(runs: RunLookup, run: RunRef, dir: string): Promise<VersionFile[]> {
  const root = normalizeArtifactDir(dir);
  const listed = await runs.listArtifactFiles(run.runId, root);
  return listed
    .filter((f) => isUnderArtifactDir(f.path, root) && f.path !== root)
    .map((f) => ({
      path: root === "" ? f.path : f.path.slice(root.length + 1),
      sha256: f.sha256,
      size: f.size,
    }));
}

/**
 * Checks uploaded file references: normalized paths, no duplicates, every blob owned by the model's
 * project. A blob of another project gets the same "not uploaded" error as a missing one
 * (docs/security.md, tenancy).
 */
export async function checkUploadedFiles(
  blobs: BlobOwnership,
  projectId: string,
  files: Array<{ path: string; sha256: string }>,
): Promise<VersionFile[]> {
  const seen = new Set<string>();
  const out: VersionFile[] = [];
  for (const f of files) {
    const path = normalizeArtifactPath(f.path);
    if (seen.has(path)) throw new InputError(`file ${path} is listed twice`);
    seen.add(path);
    const info = await blobs.resolve(projectId, f.sha256);
    if (!info)
      throw new NotFoundError(`file ${path}: blob ${String(f.sha256).slice(0, 80)} was not uploaded`);
    out.push({ path, sha256: info.sha256, size: info.size });
  }
  return out;
}

/**
 * A servable version has `model.onnx` and a valid `model.json`. With `required` false (MLflow clients
 * register arbitrary flavors) the files may be absent, but a `model.json` that is present must be valid.
 */
export async function checkModelFiles(
  artifacts: ArtifactStore,
  files: VersionFile[],
  required: boolean,
): Promise<ModelDescriptor | undefined> {
  const onnx = files.find((f) => f.path === MODEL_FILE);
  const json = files.find((f) => f.path === DESCRIPTOR_FILE);
  if (required && (!onnx || !json)) {
    const missing = [onnx ? undefined : MODEL_FILE, json ? undefined : DESCRIPTOR_FILE].filter(Boolean);
    const had = files.map((f) => f.path).join(", ") || "no files";
    throw new InputError(`a model version needs ${missing.join(" and ")} (found: ${had})`);
  }
  if (!json) return undefined;
  if (json.size > MAX_DESCRIPTOR_BYTES) throw new InputError(`${DESCRIPTOR_FILE} is larger than 1 MiB`);
  return parseModelDescriptorText(await readText(artifacts, json.sha256));
}

export async function readText(artifacts: ArtifactStore, sha256: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await artifacts.get(sha256)) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The run directory a model version `source` points at: `runs:/<id>/<dir>`, or the run's artifact URI
 * followed by `/<dir>`. Undefined when the source names neither.
 */
export function runDirOfSource(source: string, run: RunRef | undefined): string | undefined {
  const runs = /^runs:\/([0-9a-zA-Z_-]+)(?:\/(.*))?$/.exec(source);
  if (runs) return runs[2] ?? "";
  if (run && (source === run.artifactUri || source.startsWith(`${run.artifactUri}/`))) {
    return source.slice(run.artifactUri.length + 1);
  }
  return undefined;
}

export function runIdOfSource(source: string): string | undefined {
  return /^runs:\/([0-9a-zA-Z_-]+)/.exec(source)?.[1];
}
