import { describe, expect, it } from "vitest";
import { type LaunchTarget, launchCommand } from "./launch-command.js";
import { envScript, LAUNCHER_ENV } from "./sandbox.js";

const spec: LaunchTarget = {
  command: ["python", "train.py"],
  workDir: "/srv/jobs/j",
  gpuDeviceIndices: [],
  memoryMiB: 1024,
  network: "host",
};
const base = {
  spec,
  bwrapPath: "/usr/bin/bwrap",
  prlimitPath: "/usr/bin/prlimit",
  hiddenPaths: [],
  readOnlyPaths: [],
  envFile: "/state/r/env.sh",
  cgroupProcsFiles: [],
  maxProcesses: 100,
  tmpSizeBytes: 1 << 20,
};

describe("launchCommand", () => {
  it("puts nothing of the job's env on any host-side command line", () => {
    for (const bwrapPath of ["/usr/bin/bwrap", null]) {
      const { argv } = launchCommand({ ...base, bwrapPath });
      expect(argv.join(" ")).not.toMatch(/LD_PRELOAD|evil|s3cr3t/);
      expect(argv).toContain("/state/r/env.sh");
    }
  });

  it("drops to uid 65534 inside bubblewrap before the env is applied", () => {
    const { argv } = launchCommand(base);
    const setpriv = argv.indexOf("/usr/bin/setpriv");
    const shell = argv.indexOf("/bin/sh");
    expect(argv[0]).toBe("/usr/bin/prlimit");
    expect(argv).toContain("/usr/bin/bwrap");
    expect(argv[setpriv + 1]).toBe("--reuid=65534");
    expect(shell).toBeGreaterThan(setpriv);
    expect(argv.slice(-2)).toEqual(["python", "train.py"]);
  });

  it("limits with cgroups when given, else RLIMIT_AS (CPU) or RLIMIT_DATA (GPU) and RLIMIT_NPROC", () => {
    const cgroup = launchCommand({ ...base, cgroupProcsFiles: ["/cg/mem/procs", "/cg/pids/procs"] });
    expect(cgroup.memoryLimit).toBe("cgroup");
    expect(cgroup.argv.slice(0, 7)).toEqual([
      "/bin/sh",
      "-c",
      cgroup.argv[2],
      "mlops-cgroup",
      "2",
      "/cg/mem/procs",
      "/cg/pids/procs",
    ]);
    expect(cgroup.argv).not.toContain("/usr/bin/prlimit");
    const cpu = launchCommand(base);
    expect(cpu.memoryLimit).toBe("rlimit-as");
    expect(cpu.argv.slice(1, 3)).toEqual([`--as=${1024 * 1024 * 1024}`, "--nproc=100"]);
    const gpu = launchCommand({ ...base, spec: { ...spec, gpuDeviceIndices: [0] } });
    expect(gpu.memoryLimit).toBe("rlimit-data");
  });

  it("refuses NUL bytes in the command", () => {
    expect(() => launchCommand({ ...base, spec: { ...spec, command: ["sh", "a\0b"] } })).toThrow(/NUL/);
  });
});

describe("envScript", () => {
  it("quotes every value so that the shell applies it verbatim, and refuses bad names and NUL", () => {
    expect(envScript({ A: "it's $(x)" })).toBe("export A='it'\\''s $(x)'\n");
    expect(() => envScript({ "A;touch x": "1" })).toThrow(/not allowed/);
    expect(() => envScript({ A: "a\0b" })).toThrow(/NUL/);
  });

  it("is not what the launcher itself gets", () => {
    expect(Object.keys(LAUNCHER_ENV).sort()).toEqual(["LANG", "PATH"]);
  });
});
