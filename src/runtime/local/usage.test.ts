import { describe, expect, it } from "vitest";
import { cpuCores, gpuUsage, parseProcStatLine, replicaProcesses, sampleProcesses } from "./usage.js";

const stat = (pid: number, ppid: number, pgrp: number, utime: number, rss: number, state = "S") =>
  `${pid} (my (odd) name) ${state} ${ppid} ${pgrp} ${pgrp} 0 -1 4194304 0 0 0 0 ${utime} 5 1 1 20 0 1 0 100 1000 ${rss} 0`;

describe("usage from /proc", () => {
  it("parses a stat line with parentheses in the name; zombies count as gone", () => {
    expect(parseProcStatLine(10, stat(10, 1, 10, 40, 300))).toMatchObject({
      pid: 10,
      ppid: 1,
      pgrp: 10,
      ticks: 47,
      rssPages: 300,
    });
    expect(parseProcStatLine(10, stat(10, 1, 10, 40, 300, "Z"))).toBeNull();
  });

  it("takes the leader's group and every descendant, also one that left the group", () => {
    const entries = [
      [10, 1, 10],
      [11, 10, 10],
      [12, 11, 12], // setsid() daemon, still a descendant
      [13, 12, 12],
      [20, 1, 20], // someone else
    ].map(([pid, ppid, pgrp]) => parseProcStatLine(pid, stat(pid, ppid, pgrp, 1, 1))!);
    expect(
      replicaProcesses(entries, 10)
        .map((entry) => entry.pid)
        .sort(),
    ).toEqual([10, 11, 12, 13]);
  });

  it("turns ticks over time into cores", () => {
    expect(cpuCores({ ticks: 100, at: 0 }, { ticks: 250, at: 1000 })).toBeCloseTo(1.5);
    expect(cpuCores({ ticks: 100, at: 0 }, { ticks: 50, at: 1000 })).toBe(0);
  });

  it("samples this very process", () => {
    const sample = sampleProcesses(process.pid);
    expect(sample.pids).toContain(process.pid);
    expect(sample.memoryBytes).toBeGreaterThan(1024 * 1024);
  });

  it("reports the replica's devices with its own processes' GPU memory", () => {
    const gpus = "0, GPU-a, 80\n1, GPU-b, 5\n2, GPU-c, 99\n";
    const apps = "100, GPU-a, 2000\n101, GPU-a, 500\n999, GPU-a, 7000\n100, GPU-c, 10\n";
    expect(gpuUsage(gpus, apps, [0, 1], [100, 101])).toEqual([
      { index: 0, utilizationPercent: 80, memoryUsedMiB: 2500 },
      { index: 1, utilizationPercent: 5, memoryUsedMiB: 0 },
    ]);
  });
});
