import { describe, expect, it } from "vitest";
import type { Deployment } from "./deployment.js";
import { type DeploymentLookup, parseDeploymentRef, resolveDeploymentRef } from "./deployment-ref.js";

const dep = (projectId: string, name: string) =>
  ({ id: `${projectId}-${name}`, projectId, name }) as Deployment;
const all = [dep("pa", "shapes"), dep("pb", "shapes"), dep("pc", "shapes"), dep("pb", "only-b")];
const names: Record<string, string> = { pa: "alpha", pb: "beta", pc: "gamma" };

/** A caller who sees the given projects (by id or name). */
function seeing(...visible: string[]): DeploymentLookup {
  return {
    named: async (name) => all.filter((d) => d.name === name),
    visibleProject: async (idOrName) => {
      const id = Object.keys(names).find((k) => k === idOrName || names[k] === idOrName);
      return id && visible.includes(id) ? { id, name: names[id] } : undefined;
    },
  };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (err: Error) => `${err.constructor.name}: ${err.message}`,
  );

describe("deployment references", () => {
  it("parses name and project/name", () => {
    expect(parseDeploymentRef("shapes")).toEqual({ name: "shapes" });
    expect(parseDeploymentRef("beta/shapes")).toEqual({ project: "beta", name: "shapes" });
  });

  it("resolves a bare name among the projects the caller sees", async () => {
    expect((await resolveDeploymentRef("shapes", seeing("pa"))).id).toBe("pa-shapes");
    expect((await resolveDeploymentRef("beta/shapes", seeing("pa", "pb"))).id).toBe("pb-shapes");
    expect((await resolveDeploymentRef("pb/shapes", seeing("pb"))).id).toBe("pb-shapes");
  });

  it("answers other projects' names exactly like names nobody uses", async () => {
    const outsider = seeing("pa");
    expect(await failure(resolveDeploymentRef("only-b", outsider))).toBe(
      (await failure(resolveDeploymentRef("never", outsider))).replace("never", "only-b"),
    );
    expect(await failure(resolveDeploymentRef("beta/shapes", outsider))).toBe(
      (await failure(resolveDeploymentRef("delta/shapes", outsider))).replace("delta", "beta"),
    );
    expect(await failure(resolveDeploymentRef("never", outsider))).toBe(
      "NotFoundError: deployment never not found",
    );
  });

  it("asks for project/name when several visible projects use the name, naming only those", async () => {
    expect(await failure(resolveDeploymentRef("shapes", seeing("pa", "pb")))).toBe(
      "ConflictError: deployment name shapes is used in several of your projects (alpha, beta): address it as <project>/shapes",
    );
  });
});
