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
    expect(() => validateJobRequest(res({ gpus: 4, gpuType: "h100" }), nodes)).not.toThrow();
    expect(() => validateJobRequest(res({ gpus: 2 }), nodes, { replicas: 2 })).not.toThrow();
  });

  it.each([
    [res({ gpus: 1, gpuType: "v100" }), {}, /unknown GPU type 'v100'; available: h100 x4, a100 x2/],
    [res({ gpus: 5, gpuType: "h100" }), {}, /5 h100 GPUs per replica, but no node has more than 4/],
    [res({ gpus: 3, gpuType: "a100" }), {}, /no node has more than 2/],
    [res({ gpus: 3, gpuType: "h100" }), { replicas: 2 }, /6 GPUs in all, but only 4 exist/],
    [res({ cpu: 9 }), {}, /9 CPU cores/],
    [res({ memoryMiB: 40000 }), {}, /40000 MiB/],
    [res({ cpu: 5 }), { replicas: 2 }, /at most 1 fit/],
    [res({ gpus: 2 }), { quota: { gpus: 1 } }, /quota is 1/],
    [res({ gpus: 2, gpuType: "h100" }), { quota: { gpusByType: { h100: 1 } } }, /h100 quota is 1/],
  ])("refuses %j %j", (resources, options, message) => {
    expect(() => validateJobRequest(resources, nodes, options)).toThrow(InputError);
    expect(() => validateJobRequest(resources, nodes, options)).toThrow(message);
  });

  it("refuses GPUs where there are none", () => {
    expect(() => validateJobRequest(res({ gpus: 1 }), [localNode([], 2, 1024)])).toThrow(/has no GPUs/);
  });
});
