import { describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import {
  cudaVisibleDevices,
  describeInventory,
  normalizeGpuType,
  parseGpuDeclaration,
  parseNvidiaSmiCsv,
} from "./gpu-inventory.js";

describe("parseGpuDeclaration", () => {
  it("gives indices across the declaration and stable per-type uuids", () => {
    const devices = parseGpuDeclaration("h100:4, A100:2");
    expect(devices.map((d) => [d.index, d.uuid, d.type])).toEqual([
      [0, "SIM-h100-0", "h100"],
      [1, "SIM-h100-1", "h100"],
      [2, "SIM-h100-2", "h100"],
      [3, "SIM-h100-3", "h100"],
      [4, "SIM-a100-0", "a100"],
      [5, "SIM-a100-1", "a100"],
    ]);
    expect(devices.every((d) => d.simulated)).toBe(true);
    expect(describeInventory(devices)).toBe("h100 x4, a100 x2");
    expect(parseGpuDeclaration("  ")).toEqual([]);
  });

  it.each(["h100", "h100:x", "h100:0", "h100:1,h100:2", "h 100:1"])("rejects %j", (text) => {
    expect(() => parseGpuDeclaration(text)).toThrow(InputError);
  });
});

describe("parseNvidiaSmiCsv", () => {
  it("parses the query output and normalizes the type", () => {
    const csv = [
      "1, GPU-bbbbbbbb-0000-0000-0000-000000000001, NVIDIA H100 80GB HBM3, 81559",
      "0, GPU-aaaaaaaa-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559",
      "",
    ].join("\n");
    const devices = parseNvidiaSmiCsv(csv);
    expect(devices).toEqual([
      {
        index: 0,
        uuid: "GPU-aaaaaaaa-0000-0000-0000-000000000000",
        type: "h100",
        name: "NVIDIA H100 80GB HBM3",
        memoryMiB: 81559,
        simulated: false,
      },
      expect.objectContaining({ index: 1, type: "h100" }),
    ]);
    expect(cudaVisibleDevices(devices)).toBe(
      "GPU-aaaaaaaa-0000-0000-0000-000000000000,GPU-bbbbbbbb-0000-0000-0000-000000000001",
    );
  });

  it("rejects lines it cannot read", () => {
    expect(() => parseNvidiaSmiCsv("garbage")).toThrow(InputError);
  });

  it.each([
    ["NVIDIA H100 80GB HBM3", "h100"],
    ["NVIDIA H100 PCIe", "h100"],
    ["NVIDIA H200", "h200"],
    ["NVIDIA A100-SXM4-80GB", "a100"],
    ["NVIDIA A100-PCIE-40GB", "a100"],
    ["Tesla V100-SXM2-16GB", "v100"],
    ["Tesla T4", "t4"],
    ["NVIDIA L4", "l4"],
    ["NVIDIA A10G", "a10g"],
    ["NVIDIA GeForce RTX 4090", "rtx4090"],
    ["NVIDIA RTX A6000", "a6000"],
  ])("normalizes %j to %j", (name, type) => {
    expect(normalizeGpuType(name)).toBe(type);
  });
});

describe("cudaVisibleDevices", () => {
  it("uses indices for simulated devices", () => {
    const devices = parseGpuDeclaration("h100:4");
    expect(cudaVisibleDevices([devices[1], devices[3]])).toBe("1,3");
  });
});
