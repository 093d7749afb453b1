import { describe, expect, it } from "vitest";
import { ForbiddenError } from "../errors.js";
import { grantWorkload, requireProject } from "./authorization.js";
import type { Principal } from "./principal.js";
import { PERMISSIONS } from "./roles.js";
import { WORKLOAD_CAPABILITIES } from "./workload-capabilities.js";

const project = { id: "p1", name: "vision" };
const human: Principal = { userId: "u", userName: "ada", role: "admin", tokenId: "t" };
const job: Principal = { ...human, tokenId: "w", scope: { projectId: "p1", jobId: "j1", runId: "r1" } };

describe("workload capabilities", () => {
  it("lets a workload token read its project and nothing else without a grant, even an admin's", () => {
    expect(() => requireProject(job, project, "admin", "read")).not.toThrow();
    for (const permission of PERMISSIONS.filter((p) => p !== "read")) {
      expect(() => requireProject(job, project, "admin", permission), permission).toThrow(ForbiddenError);
    }
    expect(() => requireProject(job, { id: "p2", name: "other" }, "admin", "read")).toThrow(ForbiddenError);
  });

  it("grants each capability only for the token's own run or job, and only its one permission", () => {
    const run = grantWorkload(job, "run.write", { runId: "r1" });
    expect(() => requireProject(run, project, "admin", "write")).not.toThrow();
    expect(() => requireProject(run, project, "admin", "deploy")).toThrow(ForbiddenError);
    expect(() => grantWorkload(job, "run.write", { runId: "r2" })).toThrow(ForbiddenError);
    expect(() => grantWorkload(job, "model.version.create", { runId: null })).toThrow(ForbiddenError);
    expect(() => grantWorkload(job, "batch.report", { jobId: "j2" })).toThrow(ForbiddenError);
    expect(() =>
      requireProject(grantWorkload(job, "batch.report", { jobId: "j1" }), project, "admin", "write"),
    ).not.toThrow();
    // Every capability stands for a permission a role can hold: none widens a token beyond its owner.
    for (const permission of Object.values(WORKLOAD_CAPABILITIES)) expect(PERMISSIONS).toContain(permission);
  });

  it("never lets a workload token exceed its owner's role", () => {
    const viewersJob = grantWorkload({ ...job, role: "viewer" }, "run.write", { runId: "r1" });
    expect(() => requireProject(viewersJob, project, "viewer", "write")).toThrow(ForbiddenError);
  });

  it("leaves people's tokens as they are", () => {
    expect(grantWorkload(human, "run.write", { runId: "anything" })).toBe(human);
    expect(() => requireProject(human, project, undefined, "manage")).not.toThrow();
  });
});
