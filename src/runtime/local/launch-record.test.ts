import { describe, expect, it } from "vitest";
import { buildLaunchRecord } from "./launch-record.js";
import { resolveOptions } from "./local-runtime-options.js";

const options = resolveOptions({
  stateDir: "/data/runtime",
  logDir: "/data/logs",
  jobsDir: "/data/jobs",
  volumesDir: "/data/volumes",
  bwrapPath: "/usr/bin/bwrap",
});

describe("buildLaunchRecord", () => {
  const record = (extra: Parameters<typeof buildLaunchRecord>[0]["spec"]) =>
    buildLaunchRecord({
      replicaId: "j.a0.r0",
      spec: extra,
      workDir: "/data/jobs/j",
      command: extra.command,
      volumes: [],
      replicaDir: "/data/runtime/replicas/j.a0.r0",
      logFiles: { stdout: "/data/logs/o", stderr: "/data/logs/e" },
      options,
      sandboxed: true,
      rlimits: true,
      cgroups: null,
    });
  const base = {
    jobId: "j",
    attempt: 0,
    replicaIndex: 0,
    command: ["/bin/true"],
    env: {},
    resources: { cpu: 1, memoryMiB: 256, gpus: 2 },
    timeoutSeconds: 1.5,
  };

  it("binds the device nodes of real devices only, and records them for usage", () => {
    const launch = record({
      ...base,
      resources: {
        ...base.resources,
        devices: [
          { index: 2, uuid: "GPU-2", simulated: false },
          { index: 5, uuid: "GPU-sim", simulated: true },
        ],
      },
    });
    expect(launch.gpuDeviceIndices).toEqual([2]);
    expect(launch.argv.join(" ")).toContain("--dev-bind-try /dev/nvidia2 /dev/nvidia2");
    expect(launch.argv.join(" ")).not.toContain("/dev/nvidia5");
    // GPU replicas get RLIMIT_DATA (CUDA reserves far more address space than it uses).
    expect(launch.argv.some((arg) => arg.startsWith("--data="))).toBe(true);
    expect(launch).toMatchObject({ timeoutMs: 1500, graceMs: 10_000, kind: "job", sandbox: "bubblewrap" });
  });

  it("binds the login user's passwd and group over the sandbox's", () => {
    const launch = record({ ...base, kind: "workspace", user: { name: "ada", home: "/home/ada" } });
    const argv = launch.argv.join(" ");
    expect(argv).toContain("--ro-bind /data/runtime/replicas/j.a0.r0/passwd /etc/passwd");
    expect(argv).toContain("--ro-bind /data/runtime/replicas/j.a0.r0/group /etc/group");
    expect(launch.graceMs).toBe(30_000);
  });
});
