import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime } from "./local-runtime.js";
import { bubblewrapArgs, probeBubblewrap } from "./sandbox.js";
import {
  createRuntime,
  makeLayout,
  readAll,
  spec,
  type TestLayout,
  workDirOf,
} from "../../../test/support/runtime-harness.js";

const extra = { envFile: "/state/env.sh", network: "host" as const, tmpSizeBytes: 64 * 1024 * 1024 };

describe("bubblewrapArgs", () => {
  it("binds only the assigned GPU device nodes, plus the control nodes", () => {
    const args = bubblewrapArgs(
      { workDir: "/srv/jobs/a", gpuDeviceIndices: [1, 3], hiddenPaths: [], readOnlyPaths: [], ...extra },
      ["python", "train.py"],
    );
    const devBinds = args.flatMap((arg, i) => (arg === "--dev-bind-try" ? [args[i + 1]] : []));
    expect(devBinds).toEqual([
      "/dev/nvidia1",
      "/dev/nvidia3",
      "/dev/nvidiactl",
      "/dev/nvidia-uvm",
      "/dev/nvidia-uvm-tools",
      "/dev/nvidia-modeset",
    ]);
    expect(args.slice(-2)).toEqual(["python", "train.py"]);
    const cpuOnly = bubblewrapArgs(
      { workDir: "/srv/jobs/a", gpuDeviceIndices: [], hiddenPaths: [], readOnlyPaths: [], ...extra },
      ["x"],
    );
    expect(cpuOnly.join(" ")).not.toContain("nvidia");
  });

  it("masks a hidden dir under a bound path before binding the work dir inside it", () => {
    const root = path.join(os.tmpdir(), `bwargs-${process.pid}`);
    mkdirSync(path.join(root, "data", "jobs", "a"), { recursive: true });
    try {
      const workDir = path.join(root, "data", "jobs", "a");
      const args = bubblewrapArgs(
        {
          workDir,
          gpuDeviceIndices: [],
          hiddenPaths: [path.join(root, "data")],
          readOnlyPaths: [root],
          ...extra,
        },
        ["x"],
      ).join(" ");
      const mask = args.indexOf(`--tmpfs ${path.join(root, "data")}`);
      const bind = args.indexOf(`--bind ${workDir} ${workDir}`);
      expect(mask).toBeGreaterThan(args.indexOf(`--ro-bind-try ${root} ${root}`));
      expect(bind).toBeGreaterThan(mask);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

const bubblewrap = await probeBubblewrap("/usr/bin/bwrap");

// Under CI=true a missing sandbox fails the run instead of passing it by skipping (docs/security.md).
if (!bubblewrap.available && process.env.CI === "true") {
  it("has a working bubblewrap sandbox (CI=true: the sandbox tests must run)", () => {
    throw new Error(`CI=true: ${bubblewrap.reason}`);
  });
}

describe.skipIf(!bubblewrap.available)("the bubblewrap sandbox", () => {
  let layout: TestLayout;
  let runtime: LocalRuntime;
  let database: string;
  let otherSecret: string;
  let n = 0;

  beforeAll(async () => {
    layout = makeLayout("sandbox-");
    // Traversable, as a real installation is: the data dir is then hidden only by the sandbox's mask.
    chmodSync(layout.root, 0o755);
    database = path.join(layout.dataDir, "mlops.sqlite");
    writeFileSync(database, "SQLite format 3\0 secret rows");
    otherSecret = path.join(layout.jobsDir, "other-job", "secret.txt");
    mkdirSync(path.dirname(otherSecret), { recursive: true });
    writeFileSync(otherSecret, "another user's data");
    // The whole temp root is bound read-only, so the data dir is hidden only because it is masked.
    runtime = await createRuntime(layout, { readOnlyPaths: [layout.root] });
    expect(runtime.describe().sandbox).toBe("bubblewrap");
  });
  afterAll(async () => {
    await runtime.close();
    layout.cleanup();
  });

  async function run(command: string[]) {
    const s = spec(layout, `sbx-${n++}`, command);
    const handle = await runtime.start(s);
    const exit = await handle.exited;
    const logs = await readAll(runtime.logs(handle.replicaId));
    return {
      exit,
      stdout: logs.stdout.toString(),
      stderr: logs.stderr.toString(),
      workDir: workDirOf(layout, s.jobId),
    };
  }

  it.each([
    ["the platform's database file", () => database],
    ["another job's directory", () => otherSecret],
  ])("cannot read %s", async (_what, target) => {
    expect(readFileSync(target(), "utf8").length).toBeGreaterThan(0);
    const result = await run(["/bin/sh", "read-file.sh", target()]);
    expect(result.exit.exitCode).not.toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("No such file or directory");
  });

  it("cannot see the runtime's state and logs even when no hidden path covers them", async () => {
    const bare = makeLayout("sandbox-bare-");
    try {
      const exposed = await createRuntime(bare, { hiddenPaths: [], readOnlyPaths: [bare.root] });
      const s = spec(bare, "peek", [
        "/bin/sh",
        "-c",
        `ls ${bare.stateDir} ${bare.logDir}; ls ${bare.jobsDir}`,
      ]);
      const handle = await exposed.start(s);
      await handle.exited;
      const logs = await readAll(exposed.logs(handle.replicaId));
      expect(logs.stdout.toString()).not.toContain("launch.json");
      expect(logs.stdout.toString()).not.toContain(".log");
      await exposed.close();
    } finally {
      bare.cleanup();
    }
  });

  it("writes its own dir, and nothing else on the host", async () => {
    const script = [
      "echo result > out.txt",
      `touch ${layout.root}/escape.txt 2>/dev/null && echo root-writable`,
      "touch /usr/escape.txt 2>/dev/null && echo usr-writable",
      "exit 0",
    ].join("; ");
    const result = await run(["/bin/sh", "-c", script]);
    expect(result.exit.exitCode).toBe(0);
    expect(result.stdout).toBe("");
    expect(readFileSync(path.join(result.workDir, "out.txt"), "utf8")).toBe("result\n");
    expect(existsSync(path.join(layout.root, "escape.txt"))).toBe(false);
  });

  it("has a private /tmp", async () => {
    const hostFile = path.join("/tmp", `host-only-${process.pid}-${Date.now()}`);
    const jobFile = `/tmp/job-only-${process.pid}-${Date.now()}`;
    writeFileSync(hostFile, "host");
    try {
      const result = await run([
        "/bin/sh",
        "-c",
        `echo job > ${jobFile} && cat ${jobFile} && cat ${hostFile}`,
      ]);
      expect(result.stdout).toBe("job\n");
      expect(result.stderr).toContain("No such file or directory");
      expect(existsSync(jobFile)).toBe(false);
    } finally {
      rmSync(hostFile, { force: true });
    }
  });

  it("cannot see or signal the control plane's processes", async () => {
    const result = await run([
      "/bin/sh",
      "-c",
      `kill -0 ${process.pid} && echo reached; ls /proc | grep -c '^[0-9]'`,
    ]);
    expect(result.stdout).not.toContain("reached");
    expect(Number(result.stdout.trim())).toBeLessThan(10);
  });
});
