import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";

/**
 * Reading the YAML under infrastructure/ and a small `kustomize build` for the features our overlays use
 * (resources, namespace, images, patches as strategic merge). Not kustomize itself: it exists so tests can
 * schema-validate what an overlay would apply (infrastructure/kubernetes/README.md, "What is validated").
 */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  [key: string]: unknown;
};

export function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...yamlFiles(full));
    else if (/\.ya?ml$/.test(entry)) out.push(full);
  }
  return out.sort();
}

/** Every document of a YAML file; throws on a syntax error (the yaml package's message names the line). */
export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return doc.toJSON();
  });
}

/** The one object of that kind and name, typed by the caller (after schema validation). */
export function findObject<T>(objects: KubeObject[], kind: string, name: string): T {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}`);
  return found[0] as T;
}

export function isKubeObject(doc: unknown): doc is KubeObject {
  return typeof doc === "object" && doc !== null && "apiVersion" in doc && "kind" in doc;
}

const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "ResourceFlavor",
  "ClusterQueue",
  "PersistentVolume",
  "StorageClass",
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Strategic merge as kustomize does for built-in kinds: maps merge, lists of named items merge by name. */
export function strategicMerge(base: unknown, patch: unknown): unknown {
  if (isRecord(base) && isRecord(patch)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(patch)) out[k] = k in base ? strategicMerge(base[k], v) : v;
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((p) => isRecord(p) && "name" in p)) {
    const out = base.map((b) => {
      const match = patch.find((p) => isRecord(b) && p.name === b.name);
      return match ? strategicMerge(b, match) : b;
    });
    for (const p of patch) if (!base.some((b) => isRecord(b) && b.name === p.name)) out.push(p);
    return out;
  }
  return patch;
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  patches?: Array<{ path: string }>;
  images?: Array<{ name: string; newTag?: string; newName?: string }>;
  labels?: Array<{ pairs: Record<string, string> }>;
}

function setImages(obj: unknown, images: NonNullable<Kustomization["images"]>): unknown {
  if (Array.isArray(obj)) return obj.map((o) => setImages(o, images));
  if (!isRecord(obj)) return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const image = images.find((i) => k === "image" && typeof v === "string" && v.split(":")[0] === i.name);
    out[k] = image ? `${image.newName ?? image.name}:${image.newTag ?? "latest"}` : setImages(v, images);
  }
  return out;
}

/** The objects `kustomize build dir` would print, for the subset of kustomize we use. */
export function kustomizeBuild(dir: string): KubeObject[] {
  const k = readYamlDocuments(path.join(dir, "kustomization.yaml"))[0] as Kustomization;
  let objects: KubeObject[] = [];
  for (const resource of k.resources ?? []) {
    const full = path.join(dir, resource);
    if (statSync(full).isDirectory()) objects.push(...kustomizeBuild(full));
    else objects.push(...readYamlDocuments(full).filter(isKubeObject));
  }
  for (const { path: patchPath } of k.patches ?? []) {
    const patch = readYamlDocuments(path.join(dir, patchPath))[0] as KubeObject;
    const index = objects.findIndex((o) => o.kind === patch.kind && o.metadata.name === patch.metadata.name);
    if (index < 0) throw new Error(`${dir}: patch ${patchPath} matches no object`);
    objects[index] = strategicMerge(objects[index], patch) as KubeObject;
  }
  objects = objects.map((o) => {
    let out = o;
    if (k.namespace && !CLUSTER_SCOPED.has(o.kind)) {
      out = { ...out, metadata: { ...out.metadata, namespace: k.namespace } };
    }
    for (const { pairs } of k.labels ?? []) {
      out = { ...out, metadata: { ...out.metadata, labels: { ...out.metadata.labels, ...pairs } } };
    }
    return k.images ? (setImages(out, k.images) as KubeObject) : out;
  });
  return objects;
}
