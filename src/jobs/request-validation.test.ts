import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { parseGpuDeclaration } from "./gpu-inventory.js";
import type { JobResources } from "./job.js";
import { validateJobRequest } from "./request-validation.js";
import { localNode } from "./scheduler.js";

const nodes = [localNode(parseGpuDeclaration("h100:4,a100:2"), 8, 32768)];
const res = (r: Partial<JobResources>): JobResources => ({ cpu: 1, memoryMiB: 1024, gpus: 0, ...r });

describe("validateJobRequest", () => {
  it("accepts what the inventory can hold", () => {
    expect(validateJobRequest(res({ gpus: 4, gpuType: "h100" }), nodes)).toBeNull();
    expect(validateJobRequest(res({ gpus: 2 }), nodes, { nodes: 2 })).toBeNull();
    expect(validateJobRequest(res({ gpus: 4, cpu: 4 }), nodes, { procsPerNode: 4 })).toBeNull();
  });

  it.each([
    [res({ gpus: 1, gpuType: "v100" }), {}, /unknown GPU type 'v100'; available: h100 x4, a100 x2/],
    [res({ gpus: 2 }), { quota: { gpus: 1 } }, /quota is 1/],
    [res({ gpus: 2 }), { nodes: 2, quota: { gpus: 3 } }, /asks for 4 GPUs; the project's quota is 3/],
    [res({ gpus: 2, gpuType: "h100" }), { quota: { gpusByType: { h100: 1 } } }, /h100 quota is 1/],
  ])("refuses %j %j", (resources, options, message) => {
    expect(() => validateJobRequest(resources, nodes, options)).toThrow(InputError);
    expect(() => validateJobRequest(resources, nodes, options)).toThrow(message);
  });

  it.each([
    [res({ gpus: 5, gpuType: "h100" }), {}, "needs 5 h100 GPUs on one node, the largest node has 4"],
    [res({ gpus: 3, gpuType: "a100" }), {}, "needs 3 a100 GPUs on one node, the largest node has 2"],
    [
      res({ gpus: 3, gpuType: "h100" }),
      { nodes: 2 },
      "needs 2 nodes of 3 h100 GPUs, 1 CPU, 1024 MiB at once, at most 1 fit",
    ],
    [res({ cpu: 9 }), {}, "needs 9 CPU cores on one node, the largest node has 8"],
    [res({ memoryMiB: 40000 }), {}, "needs 40000 MiB of memory on one node, the largest node has 32768 MiB"],
    [res({ cpu: 5 }), { nodes: 2 }, "needs 2 nodes of 5 CPU, 1024 MiB at once, at most 1 fit"],
  ])("accepts %j %j but says it cannot run on this inventory", (resources, options, reason) => {
    expect(validateJobRequest(resources, nodes, options)).toBe(
      `cannot run on the current inventory: ${reason}`,
    );
  });

  it("refuses GPUs where there are none", () => {
    expect(() => validateJobRequest(res({ gpus: 1 }), [localNode([], 2, 1024)])).toThrow(/has no GPUs/);
  });
});
