import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import hcl from "hcl2-parser";
import { describe, expect, it } from "vitest";
import { kustomizeBuild, readYamlDocuments } from "./support/manifests.js";

// Terraform is parsed with hcl2-parser (the HCL v2 parser, compiled to JS) and cross-checked against the
// Kubernetes manifests; `terraform validate` and `terraform fmt` are not run (no Terraform binary or provider
// schemas here: infrastructure/terraform/README.md). Workflows and Dockerfiles are checked structurally.
const REPO = path.resolve(import.meta.dirname, "..");
const TERRAFORM = path.join(REPO, "infrastructure", "terraform");

type Block = Record<string, Array<Record<string, unknown>>>;
interface TerraformFile {
  variable?: Block;
  output?: Block;
  resource?: Record<string, Block>;
}

function parseHcl(source: string): TerraformFile {
  const [parsed, error] = hcl.parseToObject(source) as [TerraformFile | null, unknown];
  if (error || !parsed) throw new Error(`HCL parse error: ${JSON.stringify(error)}`);
  return parsed;
}

const tfFiles = readdirSync(TERRAFORM).filter((f) => f.endsWith(".tf"));
const tfSources = tfFiles.map((f) => ({ file: f, source: readFileSync(path.join(TERRAFORM, f), "utf8") }));
const parsed = tfSources.map(({ source }) => parseHcl(source));
const variables = Object.assign({}, ...parsed.map((p) => p.variable ?? {})) as Block;

interface GpuPool {
  gpu_product: string;
  gpus_per_node: number;
  max_nodes: number;
}

describe("terraform", () => {
  it("parses every .tf file, and the parser rejects broken HCL", () => {
    expect(tfFiles.sort()).toEqual(["main.tf", "outputs.tf", "variables.tf", "versions.tf"]);
    expect(() => parseHcl('variable "x" {\n  default = \n}\n')).toThrow(/parse error/);
  });

  it("is laid out as terraform fmt would have it (spaces, no trailing blanks, final newline)", () => {
    for (const { file, source } of tfSources) {
      expect(source, file).not.toMatch(/\t/);
      expect(source, file).not.toMatch(/[ ]+$/m);
      expect(source.endsWith("\n") && !source.endsWith("\n\n"), file).toBe(true);
      for (const line of source.split("\n"))
        expect((line.match(/^ */)?.[0].length ?? 0) % 2, `${file}: ${line}`).toBe(0);
    }
  });

  it("declares every variable and resource it references", () => {
    const all = tfSources.map((s) => s.source).join("\n");
    for (const [, name] of all.matchAll(/\bvar\.([a-z_]+)/g))
      expect(variables, `var.${name}`).toHaveProperty(name ?? "");
    const resources = parsed.flatMap((p) =>
      Object.entries(p.resource ?? {}).flatMap(([type, byName]) =>
        Object.keys(byName).map((n) => `${type}.${n}`),
      ),
    );
    for (const [ref] of all.matchAll(/\bgoogle_[a-z_]+\.[a-z_]+/g)) expect(resources).toContain(ref);
  });

  it("matches the Kueue queues and the artifacts StorageClass of the production overlay", () => {
    const pools = variables.gpu_pools?.[0]?.default as Record<string, GpuPool>;
    expect(Object.keys(pools).length).toBeGreaterThanOrEqual(2);
    const objects = kustomizeBuild(path.join(REPO, "infrastructure", "kubernetes", "overlays", "production"));
    for (const [name, pool] of Object.entries(pools)) {
      const flavor = objects.find(
        (o) =>
          o.kind === "ResourceFlavor" &&
          (o.spec as { nodeLabels: Record<string, string> }).nodeLabels["nvidia.com/gpu.product"] ===
            pool.gpu_product,
      );
      expect(flavor, name).toBeDefined();
      const queue = objects.find(
        (o) => o.kind === "ClusterQueue" && JSON.stringify(o.spec).includes(`"${flavor?.metadata.name}"`),
      );
      const gpuQuota = (
        queue?.spec as
          | undefined
          | {
              resourceGroups: Array<{
                flavors: Array<{ resources: Array<{ name: string; nominalQuota: string }> }>;
              }>;
            }
      )?.resourceGroups[0]?.flavors[0]?.resources.find((r) => r.name === "nvidia.com/gpu")?.nominalQuota;
      expect(Number(gpuQuota), name).toBe(pool.max_nodes * pool.gpus_per_node);
    }
    const pvc = objects.find((o) => o.kind === "PersistentVolumeClaim");
    expect((pvc?.spec as { storageClassName?: string } | undefined)?.storageClassName).toBe(
      variables.artifacts_storage_class?.[0]?.default,
    );
  });
});

describe("CI/CD", () => {
  const workflow = (name: string) =>
    readYamlDocuments(path.join(REPO, ".github", "workflows", name))[0] as {
      on: unknown;
      jobs: Record<
        string,
        { "runs-on": string; steps: Array<{ run?: string; uses?: string; with?: Record<string, string> }> }
      >;
    };

  it("tests with .ci/run and builds both images", () => {
    const test = workflow("test.yml");
    const steps = Object.values(test.jobs).flatMap((j) => j.steps);
    expect(steps.some((s) => s.run === "bash .ci/run")).toBe(true);
    const images = workflow("images.yml");
    const build = images.jobs.build;
    expect(build?.["runs-on"]).toBe("ubuntu-latest");
    const push = build?.steps.find((s) => s.uses?.startsWith("docker/build-push-action"));
    expect(push?.with?.push).toBe(true);
    expect(JSON.stringify(images.jobs)).toContain("Dockerfile.workload");
  });

  it.each(["Dockerfile", "Dockerfile.workload"])(
    "%s runs as a non-root user and copies only existing paths",
    (name) => {
      const text = readFileSync(path.join(REPO, name), "utf8");
      const users = [...text.matchAll(/^USER (\S+)/gm)].map((m) => m[1] ?? "");
      expect(users.at(-1)).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
      for (const [, sources] of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
        for (const source of (sources ?? "").split(" "))
          expect(existsSync(path.join(REPO, source)), source).toBe(true);
      }
    },
  );

  it("builds the control plane in two stages", () => {
    const text = readFileSync(path.join(REPO, "Dockerfile"), "utf8");
    expect(text.match(/^FROM /gm)).toHaveLength(2);
    expect(text).toMatch(/^COPY --from=build /m);
  });
});
