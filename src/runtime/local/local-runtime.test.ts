import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../errors.js";
import type { LocalRuntime } from "./local-runtime.js";
import {
  createRuntime,
  groupMembers,
  makeLayout,
  processesWithArg,
  readAll,
  spec,
  type TestLayout,
  uniqueMarker,
  workDirOf,
} from "../../../test/support/runtime-harness.js";

// Every fixture runs with and without the sandbox: the process-group handling must hold in both.
describe.each(["bubblewrap", "none"] as const)("LocalRuntime (sandbox: %s)", (sandbox) => {
  let layout: TestLayout;
  let runtime: LocalRuntime;
  let n = 0;
  const id = (name: string) => `${name}-${sandbox}-${n++}`;

  beforeAll(async () => {
    layout = makeLayout();
    runtime = await createRuntime(layout, { sandbox });
    expect(runtime.describe().sandbox).toBe(sandbox);
  });
  afterAll(async () => {
    await runtime.close();
    layout.cleanup();
  });

  it("records a crash's exit code and stderr, and leaves nothing behind", async () => {
    const handle = await runtime.start(spec(layout, id("crash"), ["/bin/sh", "crash.sh"]));
    expect(handle.pid).toBeGreaterThan(1);
    const exit = await handle.exited;
    expect(exit).toMatchObject({ end: "exited", exitCode: 3, signal: null });
    expect(exit.durationMs).toBeGreaterThanOrEqual(0);
    const logs = await readAll(runtime.logs(handle.replicaId));
    expect(logs.stdout.toString()).toBe("working...\n");
    expect(logs.stderr.toString()).toBe("fatal: something broke\n");
    expect(groupMembers(runtime, handle.replicaId)).toEqual([]);
  });

  it("succeeds silently with empty logs", async () => {
    const handle = await runtime.start(spec(layout, id("silent"), ["/bin/sh", "silent.sh"]));
    expect(await handle.exited).toMatchObject({ end: "exited", exitCode: 0, signal: null });
    const archive = await runtime.logArchive(handle.replicaId);
    for (const stream of [archive.stdout, archive.stderr]) {
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      expect(Buffer.concat(parts).length).toBe(0);
    }
  });

  it("keeps binary garbage and a 1 MiB line byte for byte, streamed live", async () => {
    const handle = await runtime.start(spec(layout, id("garbage"), ["/bin/sh", "garbage.sh"]));
    const streamed = await readAll(runtime.logs(handle.replicaId, { follow: true }));
    expect(await handle.exited).toMatchObject({ exitCode: 0 });
    const garbage = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0x0d, 0x0a, 0x80, 0x81]);
    expect(streamed.stdout.length).toBe(4 * garbage.length + 1024 * 1024);
    expect(streamed.stdout.subarray(0, garbage.length).equals(garbage)).toBe(true);
    expect(streamed.stdout.subarray(-3).toString()).toBe("xxx");
    expect(streamed.stderr.toString()).toBe("partial line on stderr");
  });

  it("reaps children that outlive the replica's main process", async () => {
    const marker = uniqueMarker();
    const handle = await runtime.start(spec(layout, id("orphans"), ["/bin/sh", "fork-orphans.sh", marker]));
    expect(await handle.exited).toMatchObject({ end: "exited", exitCode: 0 });
    expect(processesWithArg(marker)).toEqual([]);
    expect(groupMembers(runtime, handle.replicaId)).toEqual([]);
  });

  it("kills a hanging replica at its timeout", async () => {
    const handle = await runtime.start(
      spec(layout, id("hang"), ["/bin/sh", "hang.sh"], { timeoutSeconds: 0.5 }),
    );
    const exit = await handle.exited;
    expect(exit).toMatchObject({ end: "timeout", exitCode: null, signal: "SIGTERM" });
    expect(exit.durationMs).toBeGreaterThanOrEqual(450);
    expect(groupMembers(runtime, handle.replicaId)).toEqual([]);
  });

  it("escalates to SIGKILL when the replica ignores SIGTERM on stop", async () => {
    const handle = await runtime.start(spec(layout, id("stubborn"), ["/bin/sh", "hang-ignore-term.sh"]));
    await waitForOutput(runtime, handle.replicaId, "ignoring SIGTERM");
    const stopped = Date.now();
    const exit = await runtime.stop(handle.replicaId, { graceMs: 400 });
    expect(exit).toMatchObject({ end: "stopped", exitCode: null, signal: "SIGKILL" });
    expect(Date.now() - stopped).toBeGreaterThanOrEqual(380);
    expect(groupMembers(runtime, handle.replicaId)).toEqual([]);
    // Stopping what has ended is a no-op that reports the same exit.
    expect(await runtime.stop(handle.replicaId)).toEqual(exit);
  });

  it("lets a replica shut down gracefully on stop", async () => {
    const handle = await runtime.start(spec(layout, id("graceful"), ["/bin/sh", "term-then-exit.sh"]));
    await waitForOutput(runtime, handle.replicaId, "running");
    const exit = await runtime.stop(handle.replicaId, { graceMs: 5000 });
    expect(exit).toMatchObject({ end: "stopped", exitCode: 0, signal: null });
    expect(exit.durationMs).toBeLessThan(4000);
    const logs = await readAll(runtime.logs(handle.replicaId));
    expect(logs.stdout.toString()).toContain("got SIGTERM, saving");
  });

  it("stops a memory hog at its memory limit", async () => {
    const handle = await runtime.start(
      spec(layout, id("hog"), ["/usr/bin/python3", "memory-hog.py"], {
        resources: { cpu: 1, memoryMiB: 256, gpus: 0 },
      }),
    );
    const exit = await handle.exited;
    expect(exit.end).toBe("exited");
    expect(exit.exitCode).not.toBe(0);
    const logs = await readAll(runtime.logs(handle.replicaId));
    expect(logs.stdout.toString()).not.toContain("without hitting a limit");
    // A cgroup OOM-kills the replica; an rlimit makes the allocation fail.
    if (runtime.describe().memoryLimit === "cgroup") expect(exit.signal).toBe("SIGKILL");
    else expect(logs.stderr.toString()).toContain("MemoryError");
  });

  it("passes the environment as given plus its own names, and nothing of the control plane's", async () => {
    const script =
      'echo "$CUDA_VISIBLE_DEVICES|$MLOPS_JOB_ID|$HOME|$(pwd)|$MLOPS_WORK_DIR|$MLOPS_OUTPUT_DIR|[$VITEST]"';
    const s = spec(layout, id("env"), ["/bin/sh", "-c", script], {
      // The spec cannot widen its devices: the runtime sets CUDA_VISIBLE_DEVICES from resources.devices.
      env: { CUDA_VISIBLE_DEVICES: "0,1,2,3", MLOPS_JOB_ID: "job-42" },
      resources: {
        cpu: 1,
        memoryMiB: 512,
        gpus: 2,
        devices: [
          { index: 3, uuid: "GPU-sim-3", simulated: true },
          { index: 1, uuid: "GPU-sim-1", simulated: true },
        ],
      },
    });
    const handle = await runtime.start(s);
    expect(await handle.exited).toMatchObject({ exitCode: 0 });
    const logs = await readAll(runtime.logs(handle.replicaId));
    const dir = workDirOf(layout, s.jobId);
    expect(logs.stdout.toString()).toBe(`3,1|job-42|${dir}|${dir}|${dir}|${dir}/mlops-output|[]\n`);
  });

  it("fails a command that does not exist without failing start()", async () => {
    const handle = await runtime.start(spec(layout, id("missing"), ["no-such-command-xyz"]));
    const exit = await handle.exited;
    expect(exit.end).toBe("exited");
    expect(exit.exitCode).not.toBe(0);
    const logs = await readAll(runtime.logs(handle.replicaId));
    expect(logs.stderr.toString()).toContain("no-such-command-xyz");
  });

  it("starts a replica id once, and refuses to forget a running replica", async () => {
    const s = spec(layout, id("once"), ["/bin/sh", "hang.sh"]);
    const handle = await runtime.start(s);
    await expect(runtime.start(s)).rejects.toThrow(ConflictError);
    await expect(runtime.remove(handle.replicaId)).rejects.toThrow(ConflictError);
    await runtime.stop(handle.replicaId, { graceMs: 1000 });
    await runtime.remove(handle.replicaId);
    expect((await runtime.reconcile()).some((s) => s.replicaId === handle.replicaId)).toBe(false);
  });
});

describe("LocalRuntime without bubblewrap", () => {
  it("fails closed: says why and refuses to start replicas", async () => {
    const layout = makeLayout();
    try {
      const missing = path.join(layout.root, "no-bwrap");
      const runtime = await createRuntime(layout, { bwrapPath: missing });
      expect(runtime.describe()).toMatchObject({
        name: "local",
        sandbox: "unavailable",
        sandboxReason: `${missing} not found or not executable`,
      });
      const s = spec(layout, "refused", ["/bin/sh", "-c", "touch ran"]);
      await expect(runtime.start(s)).rejects.toThrow(/no working sandbox.*MLOPS_SANDBOX=none/);
      expect(existsSync(path.join(workDirOf(layout, s.jobId), "ran"))).toBe(false);
      expect(await runtime.reconcile()).toEqual([]);
    } finally {
      layout.cleanup();
    }
  });

  it("runs replicas unisolated only when the operator chose sandbox none", async () => {
    const layout = makeLayout();
    try {
      const runtime = await createRuntime(layout, { sandbox: "none", cgroups: false });
      expect(runtime.describe()).toEqual({
        name: "local",
        sandbox: "none",
        sandboxReason: "disabled by configuration (MLOPS_SANDBOX=none)",
        memoryLimit: "rlimit",
        placement: "platform",
      });
      const handle = await runtime.start(spec(layout, "plain", ["/bin/sh", "silent.sh"]));
      expect(await handle.exited).toMatchObject({ exitCode: 0 });
    } finally {
      layout.cleanup();
    }
  });
});

async function waitForOutput(runtime: LocalRuntime, replicaId: string, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const logs = await readAll(runtime.logs(replicaId));
    if (logs.stdout.toString().includes(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no "${text}" in ${replicaId}'s output`);
}
