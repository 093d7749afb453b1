import path from "node:path";
import type { ArtifactStore } from "../../artifacts/artifact-store.js";
import { materializeBlob } from "../../artifacts/materialize.js";
import { NotFoundError, UnprocessableError } from "../../errors.js";
import { type ModelDescriptor, parseModelDescriptorText } from "../../registry/model-descriptor.js";
import type { ModelVersion } from "../../registry/registry-store.js";
import { DESCRIPTOR_FILE, MODEL_FILE, readText } from "../../registry/version-files.js";

/** A model version ready to load: its ONNX file on local disk and its model.json. */
export interface ResolvedVersion {
  versionId: string;
  modelName: string;
  version: number;
  modelPath: string;
  descriptor: ModelDescriptor;
}

/** Where serving gets a version's files from. */
export interface VersionSource {
  resolve(versionId: string): Promise<ResolvedVersion>;
}

/** The registry's read side that serving needs (SqlRegistryStore has it). */
export interface VersionLookup {
  findVersionById(id: string): Promise<ModelVersion | undefined>;
}

/**
 * Versions from the registry, files from the artifact store: `model.onnx` as a local file (the store's
 * own file, or a copy cached under `cacheDir`), `model.json` read and validated.
 */
export function registryVersionSource(
  lookup: VersionLookup,
  artifacts: ArtifactStore,
  cacheDir: string,
): VersionSource {
  return {
    async resolve(versionId) {
      const v = await lookup.findVersionById(versionId);
      if (!v) throw new NotFoundError(`model version ${versionId} no longer exists in the registry`);
      const onnx = v.files.find((f) => f.path === MODEL_FILE);
      const json = v.files.find((f) => f.path === DESCRIPTOR_FILE);
      if (!onnx || !json) {
        throw new UnprocessableError(
          `${v.modelName} version ${v.version} cannot be served: it needs ${MODEL_FILE} and ${DESCRIPTOR_FILE}`,
        );
      }
      const descriptor = parseModelDescriptorText(await readText(artifacts, json.sha256));
      const file = await materializeBlob(artifacts, onnx.sha256, path.join(cacheDir, "models"));
      return { versionId, modelName: v.modelName, version: v.version, modelPath: file.path, descriptor };
    },
  };
}
