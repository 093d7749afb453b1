import { describe, expect, it } from "vitest";
import {
  parseGres,
  parseNodeInventory,
  parseScontrolLine,
  parseSlurmDuration,
  parseSlurmSize,
  parseSqueue,
} from "./slurm-text.js";

const NODE_LINE =
  "NodeName=gpu01 Arch=x86_64 CoresPerSocket=16 CPUAlloc=0 CPUEfctv=64 CPUTot=64 Gres=gpu:h100:4(S:0-1),gpu:a100:2 NodeAddr=10.0.0.1 OS=Linux 6.1.0 #1 SMP RealMemory=512000 State=IDLE Partitions=gpu,all";

describe("Slurm CLI text", () => {
  it("parses an scontrol -o line, values with spaces included", () => {
    const record = parseScontrolLine(NODE_LINE);
    expect(record.NodeName).toBe("gpu01");
    expect(record.OS).toBe("Linux 6.1.0 #1 SMP");
    expect(record.RealMemory).toBe("512000");
  });

  it("reads GPU gres with types, without types, and ignores other gres", () => {
    expect(parseGres("gpu:h100:4(S:0-1),gpu:a100:2")).toEqual([
      { name: "gpu", type: "h100", count: 4 },
      { name: "gpu", type: "a100", count: 2 },
    ]);
    expect(parseGres("gpu:8,shard:16")).toEqual([{ name: "gpu", type: "gpu", count: 8 }]);
    expect(parseGres("(null)")).toEqual([]);
  });

  it("builds scheduler nodes per partition with stable device uuids; drained nodes add nothing", () => {
    const output = [
      NODE_LINE,
      "NodeName=gpu02 CPUTot=32 Gres=gpu:h100:2 RealMemory=256000 State=IDLE+DRAIN Partitions=gpu",
      "NodeName=cpu01 CPUTot=16 Gres=(null) RealMemory=64000 State=MIXED Partitions=cpu",
    ].join("\n");
    const nodes = parseNodeInventory(output, "gpu");
    expect(nodes.map((node) => node.id)).toEqual(["gpu01"]);
    expect(nodes[0]).toMatchObject({ cpu: 64, memoryMiB: 512000 });
    expect(nodes[0].gpus.map((gpu) => gpu.uuid)).toEqual([
      "SLURM-gpu01-h100-0",
      "SLURM-gpu01-h100-1",
      "SLURM-gpu01-h100-2",
      "SLURM-gpu01-h100-3",
      "SLURM-gpu01-a100-0",
      "SLURM-gpu01-a100-1",
    ]);
    expect(nodes[0].gpus.every((gpu) => !gpu.simulated)).toBe(true);
    expect(parseNodeInventory(output).map((node) => node.id)).toEqual(["gpu01", "cpu01"]);
  });

  it("parses squeue lines, durations and sizes", () => {
    expect(parseSqueue("12|RUNNING|None\n13|TIMEOUT|TimeLimit\n").get("13")).toEqual({
      jobId: "13",
      state: "TIMEOUT",
      reason: "TimeLimit",
    });
    expect(parseSlurmDuration("1-02:03:04")).toBe(93784);
    expect(parseSlurmDuration("03:04.500")).toBe(184.5);
    expect(parseSlurmDuration("junk")).toBeNull();
    expect(parseSlurmSize("9036K")).toBe(9036 * 1024);
    expect(parseSlurmSize("2G")).toBe(2 * 1024 ** 3);
    expect(parseSlurmSize("")).toBeNull();
  });
});
