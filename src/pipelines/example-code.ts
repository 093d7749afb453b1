import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import { packDirectory } from "../artifacts/code-archive.js";
import type { CodeSource } from "./ports.js";

/** `examples/vision-classifier` of this checkout or package (src/pipelines -> repo root, same under dist/). */
export function findExampleDir(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = path.join(dir, "examples", "vision-classifier");
    if (existsSync(path.join(candidate, "train.py"))) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

/**
 * The default training code: the bundled example packed as a code archive (reproducible bytes, so the same
 * example is one artifact and every retraining run records the same code reference). Packed once per process.
 */
export function bundledExampleCode(artifacts: ArtifactStore, exampleDir = findExampleDir()): CodeSource {
  let digest: Promise<string> | undefined;
  return {
    bundledExampleDigest() {
      digest ??= (async () => {
        if (!exampleDir)
          throw new Error("the vision-classifier example is not installed; set the policy's codeDigest");
        const packed = await packDirectory(exampleDir, {
          extraPatterns: ["__pycache__/", "*.pyc", "mlops-output/"],
        });
        return (await artifacts.put(packed.stream)).sha256;
      })();
      digest.catch(() => {
        digest = undefined;
      });
      return digest;
    },
  };
}
