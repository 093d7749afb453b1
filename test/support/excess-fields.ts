import path from "node:path";
import ts from "typescript";
import type { KubeObject } from "./manifests.js";

/**
 * The JSON schemas that kubernetes-models validates against accept unknown fields, so `replicass: 2` would
 * pass. TypeScript's excess-property check does not: each object is written as an object literal typed with
 * the model's interface (`I<Kind>`) in a virtual module and type-checked with the compiler. Returns one line
 * per diagnostic; objects of an apiVersion without a model package are skipped (the caller says which).
 */
const MODEL_PACKAGES: Array<[prefix: string, pkg: string]> = [
  ["monitoring.coreos.com/", "@kubernetes-models/prometheus-operator"],
  ["argoproj.io/", "@kubernetes-models/argo-cd"],
];

export function modelImport(o: KubeObject): string | undefined {
  const pkg = MODEL_PACKAGES.find(([prefix]) => o.apiVersion.startsWith(prefix))?.[1];
  if (pkg) return `${pkg}/${o.apiVersion}/${o.kind}`;
  if (o.apiVersion.includes(".") && !o.apiVersion.includes(".k8s.io/")) return undefined;
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

export function excessFieldErrors(objects: KubeObject[], repoRoot: string): string[] {
  const checked = objects.filter((o) => modelImport(o) !== undefined);
  const lines = checked.flatMap((o, i) => [
    `import type { I${o.kind} as T${i} } from "${modelImport(o)}";`,
    `// ${o.kind}/${o.metadata.name}`,
    `export const o${i}: T${i} = ${JSON.stringify(o)};`,
  ]);
  const fileName = path.join(repoRoot, "test", "__manifest_types__.ts");
  const source = lines.join("\n");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (f) => (f === fileName ? source : readFile(f));
  host.fileExists = (f) => f === fileName || fileExists(f);
  host.getSourceFile = (f, language, ...rest) =>
    f === fileName ? ts.createSourceFile(f, source, language) : getSourceFile(f, language, ...rest);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return message;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const header = d.file.text.split("\n")[line - 1] ?? "";
    return `${header.replace(/^\/\/ /, "")}: ${message}`;
  });
}
