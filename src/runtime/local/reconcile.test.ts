import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../errors.js";
import { isProcessAlive } from "./proc.js";
import {
  createRuntime,
  groupMembers,
  jobDir,
  makeLayout,
  processesWithArg,
  readAll,
  type TestLayout,
  uniqueMarker,
} from "../../../test/support/runtime-harness.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const RUNTIME_MODULE = new URL("./local-runtime.ts", import.meta.url).href;

let layout: TestLayout | undefined;
afterEach(() => layout?.cleanup());

/**
 * A control plane in its own process: starts replicas, reports their ids, then waits to be SIGKILLed —
 * what a crash looks like from the replicas' side.
 */
async function crashingControlPlane(layout: TestLayout, sandbox: string, marker: string) {
  const script = path.join(layout.root, "control-plane.mts");
  const base = {
    attempt: 0,
    replicaIndex: 0,
    env: {},
    resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
    timeoutSeconds: null,
  };
  for (const name of ["long", "quick", "later", "victim"]) jobDir(layout, name);
  const replicas = {
    long: { ...base, jobId: "long", command: ["/bin/sh", "hang.sh"] },
    quick: { ...base, jobId: "quick", command: ["/bin/sh", "crash.sh"] },
    later: { ...base, jobId: "later", command: ["/bin/sh", "-c", "sleep 1; exit 7"] },
    victim: { ...base, jobId: "victim", command: ["/bin/sh", "-c", `sleep ${marker}`] },
  };
  writeFileSync(
    script,
    `import { LocalRuntime } from ${JSON.stringify(RUNTIME_MODULE)};
const runtime = await LocalRuntime.create(${JSON.stringify({ stateDir: layout.stateDir, logDir: layout.logDir, jobsDir: layout.jobsDir, volumesDir: layout.volumesDir, sandbox })});
const ids = {};
for (const [name, spec] of Object.entries(${JSON.stringify(replicas)})) ids[name] = (await runtime.start(spec)).replicaId;
console.log(JSON.stringify(ids));
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const ids = await new Promise<Record<keyof typeof replicas, string>>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0]));
    });
    child.once("exit", (code) => reject(new Error(`control plane exited early (${code})`)));
  });
  return { child, ids };
}

describe.each(["bubblewrap", "none"] as const)("after a control-plane crash (sandbox: %s)", (sandbox) => {
  it("a fresh runtime finds running, finished and lost replicas, and leaves nothing running", async () => {
    layout = makeLayout("reconcile-");
    const marker = uniqueMarker();
    const { child, ids } = await crashingControlPlane(layout, sandbox, marker);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    // The victim's supervisor dies too, so nobody is left to record how its replica ended.
    const victimProcess = JSON.parse(
      readFileSync(path.join(layout.stateDir, "replicas", ids.victim, "process.json"), "utf8"),
    ) as { supervisorPid: number; supervisorStartTicks: number };
    process.kill(victimProcess.supervisorPid, "SIGKILL");
    // "later" ends while no control plane runs; its supervisor still records the exit. Poll for the records
    // rather than sleeping a fixed time: on a loaded machine the sandboxed start alone can take a second.
    const exitFile = (id: string) => path.join(layout!.stateDir, "replicas", id, "exit.json");
    for (
      let waited = 0;
      !(existsSync(exitFile(ids.later)) && existsSync(exitFile(ids.quick)));
      waited += 100
    ) {
      if (waited > 20_000) throw new Error("the supervisors of 'later'/'quick' never recorded an exit");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const runtime = await createRuntime(layout, { sandbox });
    const statuses = new Map((await runtime.reconcile()).map((status) => [status.replicaId, status]));
    expect(statuses.get(ids.long)).toMatchObject({ state: "running", jobId: "long" });
    expect(statuses.get(ids.quick)).toMatchObject({ state: "exited", exit: { end: "exited", exitCode: 3 } });
    expect(statuses.get(ids.later)).toMatchObject({ state: "exited", exit: { end: "exited", exitCode: 7 } });
    expect(statuses.get(ids.victim)).toMatchObject({ state: "lost", exit: { end: "lost", exitCode: null } });
    if (sandbox === "none") {
      // Unsandboxed, the workload outlived its supervisor: reconciling is what killed it.
      expect(statuses.get(ids.victim)?.exit?.message).toMatch(/killed \d+ leftover process/);
    }
    expect(isProcessAlive(victimProcess.supervisorPid, victimProcess.supervisorStartTicks)).toBe(false);
    // SIGKILL is delivered asynchronously: give the kernel a moment to remove the killed workload.
    for (let waited = 0; processesWithArg(marker).length > 0 && waited < 5_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(processesWithArg(marker)).toEqual([]);

    // The new process can wait for, stop and read what the old one started.
    const waited = runtime.wait(ids.long);
    const stopped = await runtime.stop(ids.long, { graceMs: 1000 });
    expect(stopped).toMatchObject({ end: "stopped", signal: "SIGTERM" });
    expect(await waited).toEqual(stopped);
    expect(groupMembers(runtime, ids.long)).toEqual([]);
    expect(await runtime.wait(ids.quick)).toMatchObject({ exitCode: 3 });
    expect((await readAll(runtime.logs(ids.quick))).stderr.toString()).toBe("fatal: something broke\n");
    await expect(runtime.wait("nope.a0.r0")).rejects.toThrow(NotFoundError);
    await runtime.close();
  });
});

/**
 * A control plane killed between writing a replica's launch record and starting its supervisor: the
 * supervisors here are held at a gate (a stand-in for `node` that waits for a file), so the test decides
 * which of them started before the crash.
 */
describe("a launch whose control plane died before its supervisor ran", () => {
  it("is settled at once as never started, and a supervisor that comes late does not run it", async () => {
    layout = makeLayout("abandoned-");
    const gate = path.join(layout.root, "gated-node.sh");
    // The supervisor's environment is empty: absolute paths only. "$2" is the replica's state dir.
    writeFileSync(
      gate,
      `#!/bin/sh\nwhile [ ! -e "$2.go" ]; do /bin/sleep 0.05; done\nexec ${process.execPath} "$@"\n`,
      { mode: 0o755 },
    );
    const marker = (name: string) => path.join(layout!.root, `${name}.ran`);
    const script = path.join(layout.root, "control-plane.mts");
    const specs = ["claimed", "abandoned"].map((name) => ({
      jobId: name,
      attempt: 0,
      replicaIndex: 0,
      command: ["/bin/sh", "-c", `echo ran > ${marker(name)}`],
      env: {},
      resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
      timeoutSeconds: null,
    }));
    for (const { jobId } of specs) jobDir(layout, jobId);
    writeFileSync(
      script,
      `import { LocalRuntime } from ${JSON.stringify(RUNTIME_MODULE)};
const runtime = await LocalRuntime.create(${JSON.stringify({ stateDir: layout.stateDir, logDir: layout.logDir, jobsDir: layout.jobsDir, volumesDir: layout.volumesDir, sandbox: "none", nodePath: gate })});
for (const spec of ${JSON.stringify(specs)}) void runtime.start(spec);
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: REPO, stdio: "inherit" });
    const replicaDir = (name: string) => path.join(layout!.stateDir, "replicas", `${name}.a0.r0`);
    const until = async (what: string, ready: () => boolean) => {
      for (let waited = 0; !ready(); waited += 50) {
        if (waited > 30_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await until("both launch records", () =>
      ["claimed", "abandoned"].every((name) => existsSync(path.join(replicaDir(name), "launch.json"))),
    );
    // One supervisor gets going before the crash; the other is still at the gate when it comes.
    writeFileSync(`${replicaDir("claimed")}.go`, "");
    await until("the first supervisor to start", () =>
      existsSync(path.join(replicaDir("claimed"), "process.json")),
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;

    const runtime = await createRuntime(layout, { sandbox: "none" });
    const started = Date.now();
    const statuses = new Map((await runtime.reconcile()).map((status) => [status.jobId, status]));
    expect(statuses.get("abandoned")).toMatchObject({
      state: "lost",
      exit: { end: "lost", neverStarted: true, message: expect.stringMatching(/never started/) },
    });
    // Settled from the records, not after the start grace period (15 s).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(statuses.get("claimed")?.exit?.neverStarted).toBeUndefined();
    expect(await runtime.wait(`claimed.a0.r0`)).toMatchObject({ end: "exited", exitCode: 0 });
    expect(readFileSync(marker("claimed"), "utf8")).toBe("ran\n");

    // The late supervisor finds the launch claimed and leaves without running the workload.
    writeFileSync(`${replicaDir("abandoned")}.go`, "");
    await until("the late supervisor to leave", () => processesWithArg(replicaDir("abandoned")).length === 0);
    expect(existsSync(marker("abandoned"))).toBe(false);
    expect(await runtime.stop("abandoned.a0.r0")).toMatchObject({ end: "lost", neverStarted: true });
    await runtime.remove("abandoned.a0.r0");
    await runtime.close();
  }, 60_000);
});
