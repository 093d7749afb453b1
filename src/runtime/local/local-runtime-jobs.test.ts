import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalArtifactStore } from "../../artifacts/local-artifact-store.js";
import { packDirectory } from "../../artifacts/code-archive.js";
import { ConflictError, InputError, NotFoundError } from "../../errors.js";
import type { ReplicaSpec } from "../runtime.js";
import type { LocalRuntime } from "./local-runtime.js";
import { PortReservations } from "./port-reservations.js";
import {
  createRuntime,
  makeLayout,
  readAll,
  type TestLayout,
} from "../../../test/support/runtime-harness.js";

/** What the local runtime owns for jobs: code unpacked once per job, `python`, the SDK path, refusals. */
describe("LocalRuntime: job directories and interpreter", () => {
  let layout: TestLayout;
  let runtime: LocalRuntime;
  let codeDigest: string;
  let sdkDir: string;

  beforeAll(async () => {
    layout = makeLayout("rt-jobs-");
    const code = path.join(layout.root, "code");
    mkdirSync(path.join(code, "pkg"), { recursive: true });
    writeFileSync(path.join(code, "hello.txt"), "from the archive\n");
    writeFileSync(path.join(code, "pkg", "train.py"), "print('training')\n");
    sdkDir = path.join(layout.root, "sdk");
    mkdirSync(sdkDir);
    writeFileSync(path.join(sdkDir, "fake_sdk.py"), "VERSION = 7\n");
    const artifacts = await LocalArtifactStore.create({ dataDir: layout.dataDir, fsync: false });
    codeDigest = (await artifacts.put((await packDirectory(code)).stream)).sha256;
    runtime = await createRuntime(layout, {
      artifacts,
      python: async () => "/usr/bin/python3",
      sdkPythonDir: sdkDir,
      readOnlyPaths: [sdkDir],
    });
  });
  afterAll(async () => {
    await runtime.close();
    layout.cleanup();
  });

  const spec = (jobId: string, command: string[], extra: Partial<ReplicaSpec> = {}): ReplicaSpec => ({
    jobId,
    attempt: 0,
    replicaIndex: 0,
    command,
    env: {},
    resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
    timeoutSeconds: null,
    ...extra,
  });
  const rank = (r: number) => ({
    rank: r,
    localRank: r,
    nodeRank: 0,
    worldSize: 2,
    localWorldSize: 2,
    nodes: 1,
  });

  it("unpacks the code once for the whole gang, into one dir both ranks share", async () => {
    const script = 'cat hello.txt; echo "$RANK:$(pwd)"; /usr/bin/python3 pkg/train.py';
    const handles = await runtime.startGang(
      [0, 1].map((r) =>
        spec("coded", ["/bin/sh", "-c", script], { codeDigest, replicaIndex: r, rank: rank(r) }),
      ),
    );
    const outputs: string[] = [];
    for (const handle of handles) {
      const exit = await handle.exited;
      const logs = await readAll(runtime.logs(handle.replicaId));
      expect(exit.exitCode, logs.stderr.toString()).toBe(0);
      outputs.push(logs.stdout.toString());
    }
    const dir = path.join(layout.jobsDir, "coded");
    expect(outputs).toEqual([0, 1].map((r) => `from the archive\n${r}:${dir}\ntraining\n`));
    expect(readdirSync(layout.jobsDir).filter((name) => name.startsWith("coded"))).toEqual(["coded"]);
    expect(existsSync(path.join(dir, "mlops-output"))).toBe(true);
  });

  it("runs `python` with the runtime's interpreter and the SDK first on PYTHONPATH", async () => {
    const handle = await runtime.start(
      spec(
        "py",
        [
          "python",
          "-c",
          "import sys, os, fake_sdk; print(sys.executable, fake_sdk.VERSION, os.environ['PYTHONPATH'])",
        ],
        {
          env: { PYTHONPATH: "/mine" },
        },
      ),
    );
    const exit = await handle.exited;
    const logs = await readAll(runtime.logs(handle.replicaId));
    expect(exit.exitCode, logs.stderr.toString()).toBe(0);
    expect(logs.stdout.toString()).toBe(`/usr/bin/python3 7 ${sdkDir}:/mine\n`);
  });

  it("fails to start on a code archive that does not exist, leaving no dir and no replica", async () => {
    const missing = "0".repeat(64);
    await expect(runtime.start(spec("nocode", ["/bin/true"], { codeDigest: missing }))).rejects.toThrow(
      NotFoundError,
    );
    expect(readdirSync(layout.jobsDir).filter((name) => name.startsWith("nocode"))).toEqual([]);
    expect((await runtime.reconcile()).filter((status) => status.jobId === "nocode")).toEqual([]);
  });

  it("refuses to remove a job's files while a replica of it runs", async () => {
    const handle = await runtime.start(spec("busy", ["/bin/sh", "-c", "sleep 30"]));
    await expect(runtime.removeJobFiles("busy")).rejects.toThrow(ConflictError);
    expect(existsSync(path.join(layout.jobsDir, "busy"))).toBe(true);
    await runtime.stop(handle.replicaId, { graceMs: 0 });
    await runtime.removeJobFiles("busy");
    expect(existsSync(path.join(layout.jobsDir, "busy"))).toBe(false);
    await expect(runtime.removeJobFiles("../etc")).rejects.toThrow(InputError);
  });

  it("refuses a gang of two on network none, and a ranked start() of a bigger world, starting nothing", async () => {
    const isolated = [0, 1].map((r) =>
      spec("isolated", ["/bin/true"], { replicaIndex: r, rank: rank(r), network: "none" }),
    );
    await expect(runtime.startGang(isolated)).rejects.toThrow(/network 'none'/);
    await expect(runtime.start(isolated[0])).rejects.toThrow(/startGang/);
    expect((await runtime.reconcile()).filter((status) => status.jobId === "isolated")).toEqual([]);
  });
});

describe("LocalRuntime: gangs and volumes", () => {
  let layout: TestLayout;
  let runtime: LocalRuntime;

  beforeAll(async () => {
    layout = makeLayout("rt-gang-");
    runtime = await createRuntime(layout);
  });
  afterAll(async () => {
    await runtime.close();
    layout.cleanup();
  });

  const ranked = (r: number, command: string[]): ReplicaSpec => ({
    jobId: "half",
    attempt: 0,
    replicaIndex: r,
    rank: { rank: r, localRank: r, nodeRank: 0, worldSize: 2, localWorldSize: 2, nodes: 1 },
    command,
    env: {},
    resources: { cpu: 1, memoryMiB: 256, gpus: 0 },
    timeoutSeconds: null,
  });

  it("stops and removes the ranks already started when a later one fails to start", async () => {
    // Rank 1's id is taken by an earlier start, so the gang fails after rank 0 runs.
    const squatter = await runtime.start({ ...ranked(1, ["/bin/true"]), rank: undefined });
    await squatter.exited;
    await expect(
      runtime.startGang([ranked(0, ["/bin/sh", "-c", "sleep 30"]), ranked(1, ["/bin/true"])]),
    ).rejects.toThrow(ConflictError);
    const left = (await runtime.reconcile()).filter((status) => status.jobId === "half");
    expect(left.map((status) => status.replicaId)).toEqual([squatter.replicaId]);
  });

  it("creates volumes 0700 for the workload uid, and a workspace stops with the longer grace", async () => {
    const handle = await runtime.start({
      ...ranked(0, ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"]),
      jobId: "ws",
      rank: undefined,
      kind: "workspace",
      volumes: [{ name: "ws-home", mountPath: "/home/ws" }],
    });
    const stat = statSync(path.join(layout.volumesDir, "ws-home"));
    expect(stat.mode & 0o777).toBe(0o700);
    expect(stat.uid).toBe(65534);
    await expect(runtime.deleteVolume("ws-home")).rejects.toThrow(ConflictError);
    const launch = JSON.parse(
      readFileSync(path.join(layout.stateDir, "replicas", handle.replicaId, "launch.json"), "utf8"),
    ) as { graceMs: number };
    expect(launch.graceMs).toBe(30_000);
    await runtime.stop(handle.replicaId, { graceMs: 0 });
    await runtime.deleteVolume("ws-home");
    expect(existsSync(path.join(layout.volumesDir, "ws-home"))).toBe(false);
  });
});

describe("PortReservations", () => {
  it("never hands out a held port twice", async () => {
    const ports = new PortReservations();
    const taken = new Set<number>();
    for (let i = 0; i < 30; i++) taken.add(await ports.reserve(`owner-${i % 3}`, "127.0.0.1"));
    expect(taken.size).toBe(30);
  });
});
